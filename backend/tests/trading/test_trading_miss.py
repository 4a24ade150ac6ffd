"""MISS detection: bars that closed without their alert, by the heartbeat's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.alerts import interval_parse
from trading.miss import Watch, alert_bar, bar_floor, bars_missed, stream_judge

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, midnight UTC


@pytest.mark.parametrize("raw", ["1", "5", "15", "60", "240", "D", "W", "5m", "1h"])
def test_every_tradingview_interval_reports_exactly_the_withheld_bars(raw: str) -> None:
    interval = interval_parse(raw)
    bars = [T0 + i * interval for i in range(8)]
    sent = [bar for i, bar in enumerate(bars) if i not in (2, 5)]
    clock = bars[-1] + interval + timedelta(minutes=1)

    assert bars_missed(interval=interval, alert_bars=sent, clock=clock) == [bars[2], bars[5]]


@pytest.mark.parametrize("raw", ["5", "60", "D"])
def test_a_bar_is_not_missed_before_its_close_plus_one_minute(raw: str) -> None:
    interval = interval_parse(raw)
    sent = [T0]
    close = T0 + 2 * interval

    assert bars_missed(interval=interval, alert_bars=sent, clock=close + timedelta(seconds=59)) == []
    assert bars_missed(interval=interval, alert_bars=sent, clock=close + timedelta(minutes=1)) == [T0 + interval]


def test_bars_already_recorded_as_missed_are_not_reported_twice() -> None:
    interval = timedelta(minutes=5)
    clock = T0 + timedelta(minutes=21)

    missed = bars_missed(interval=interval, alert_bars=[T0], clock=clock)
    again = bars_missed(interval=interval, alert_bars=[T0], clock=clock, recorded=missed)

    assert len(missed) == 3 and again == []


def test_no_bar_before_the_streams_first_alert_is_expected() -> None:
    interval = timedelta(minutes=15)
    first = T0 + timedelta(hours=3)

    assert bars_missed(interval=interval, alert_bars=[first], clock=first + timedelta(minutes=16)) == []


def test_a_stream_silent_for_a_day_stops_being_watched() -> None:
    interval = timedelta(hours=1)
    clock = T0 + timedelta(days=3)

    missed = bars_missed(interval=interval, alert_bars=[T0], clock=clock)

    assert len(missed) == 24 and missed[-1] + interval == T0 + interval + timedelta(days=1)


def test_a_weekly_stream_still_expects_its_next_bar_after_a_day_of_silence() -> None:
    interval = interval_parse("W")
    clock = T0 + timedelta(weeks=5)

    assert bars_missed(interval=interval, alert_bars=[T0], clock=clock) == [T0 + interval]


def test_weekly_bars_open_on_monday_and_daily_bars_at_midnight_utc() -> None:
    wednesday = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)

    assert bar_floor(wednesday, interval_parse("W")) == T0
    assert bar_floor(wednesday, interval_parse("D")) == datetime(2026, 3, 4, tzinfo=UTC)
    assert bar_floor(wednesday, interval_parse("240")) == datetime(2026, 3, 4, 12, tzinfo=UTC)


def test_an_alert_answers_its_bartime_floored_else_the_bar_that_just_closed() -> None:
    interval = timedelta(minutes=5)
    received = T0 + timedelta(minutes=10, seconds=3)

    assert alert_bar(interval=interval, bar_time=T0 + timedelta(minutes=2), received_at=received) == T0
    assert alert_bar(interval=interval, bar_time=None, received_at=received) == T0 + timedelta(minutes=5)


@given(
    sent=st.sets(st.integers(min_value=0, max_value=60), min_size=1),
    delays=st.lists(st.integers(min_value=0, max_value=59), min_size=61, max_size=61),
    step=st.integers(min_value=1, max_value=30),
)
def test_judging_candle_by_candle_records_what_judging_at_once_would(
    sent: set[int], delays: list[int], step: int
) -> None:
    """Alerts arrive within their bar's grace; each candle judges only what is new (a stream's watch)."""
    interval = timedelta(minutes=5)
    bars = {T0 + i * interval for i in sent}
    first = min(bars)
    watch, missed, arrived = Watch(first, first), [], set()
    end = T0 + 62 * interval
    clock = first + interval
    while clock <= end:
        arrived |= {bar for bar in bars if bar + interval + timedelta(seconds=delays[(bar - T0) // interval]) <= clock}
        judgement = stream_judge(interval=interval, watch=watch, answered=arrived, clock=clock)
        missed += judgement.missed
        watch = judgement.watch
        assert judgement.due is None or judgement.due > clock
        clock += step * timedelta(minutes=1)

    assert missed == bars_missed(interval=interval, alert_bars=bars, clock=clock - step * timedelta(minutes=1))
