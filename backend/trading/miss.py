"""MISS detection: which bars of an alert stream closed without their alert.

The rule (DESIGN §3), judged on the heartbeat's clock (the close time of its latest candle),
never the system clock:

- A bar is named by its open time, bars aligned on the interval from 1970-01-01 00:00 UTC
  (weeks from Monday 1970-01-05, as TradingView's weekly bars).
- An alert answers the bar of its `BarTime` (TradingView's `{{time}}`, the bar's open time)
  floored to the interval. Without `BarTime`, it answers the bar that was open one grace period
  before it was received: an alert sent on a bar's close arrives just after that close.
- A bar is missed when the clock has reached its close plus the grace (1 minute) and no
  alert answered it. Only bars after the stream's first alert are expected.
- A stream stops being watched once it has been silent for a day (or for one bar, when its bars
  are longer than a day): bars closing later than that after its last alert's bar are not expected.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

GRACE = timedelta(minutes=1)
SILENCE = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
_WEEK = timedelta(weeks=1)


def bar_floor(moment: datetime, interval: timedelta) -> datetime:
    """Open time of the bar of `interval` that contains `moment` (UTC)."""
    origin = _FIRST_MONDAY if interval % _WEEK == timedelta(0) else _EPOCH
    moment = moment.astimezone(UTC)
    return moment - (moment - origin) % interval


def alert_bar(*, interval: timedelta, bar_time: datetime | None, received_at: datetime) -> datetime:
    """The bar an alert answers: its BarTime floored, else the bar open a grace period before receipt."""
    if bar_time is not None:
        return bar_floor(bar_time, interval)
    return bar_floor(received_at - GRACE, interval)


def watched_until(*, interval: timedelta, last_bar: datetime, silence: timedelta = SILENCE) -> datetime:
    """The last bar close still expected after the stream's last alert's bar."""
    return last_bar + interval + max(silence, interval)


@dataclass(frozen=True)
class Watch:
    """Where the judging of one alert stream stands.

    `judged`: every bar up to this one (its open time) is answered or recorded as missed;
    `last_bar`: the latest bar an alert answered, at or before `judged`.
    """

    judged: datetime
    last_bar: datetime


@dataclass(frozen=True)
class Judgement:
    """What a clock tells about one stream: the bars missed, oldest first, the new watch, and the
    clock at which its next bar can be judged (None: asleep until an alert arrives)."""

    missed: list[datetime]
    watch: Watch
    due: datetime | None


def stream_judge(
    *,
    interval: timedelta,
    watch: Watch,
    answered: Collection[datetime] = (),
    recorded: Collection[datetime] = (),
    clock: datetime,
    not_before: datetime | None = None,
    grace: timedelta = GRACE,
    silence: timedelta = SILENCE,
) -> Judgement:
    """Judge the bars of one stream after `watch.judged`, up to the heartbeat's `clock`.

    `answered`: bars alerts answered (see `alert_bar`) that may be after `watch.judged`;
    `recorded`: bars already recorded as missed. The cost grows with the bars judged now, never
    with the stream's history. A bar past the watch of the last alert before it (`watched_until`)
    is not expected; the next alert wakes the stream from there. Bars opened before `not_before`
    are passed without a verdict (see `judged_since`).
    """
    ahead = sorted({bar.astimezone(UTC) for bar in answered if bar > watch.judged})
    done = {bar.astimezone(UTC) for bar in recorded}
    judged, last = watch.judged, watch.last_bar
    missed: list[datetime] = []
    index = 0
    while interval > timedelta(0):
        while index < len(ahead) and ahead[index] <= judged:
            index += 1
        bar = judged + interval
        if bar + interval + grace > clock:
            break
        if index < len(ahead) and ahead[index] == bar:
            judged = last = bar
        elif bar + interval > watched_until(interval=interval, last_bar=last, silence=silence):
            if index == len(ahead):
                break  # asleep until the next alert
            judged = last = ahead[index]  # woken by an alert: bars from its own are expected
        else:
            if bar not in done and (not_before is None or bar >= not_before):
                missed.append(bar)
            judged = bar
    watching = judged + 2 * interval <= watched_until(interval=interval, last_bar=last, silence=silence)
    due = judged + 2 * interval + grace if watching or index < len(ahead) else None
    return Judgement(missed, Watch(judged, last), due)


def judged_since(*, interval: timedelta, clock: datetime, silence: timedelta = SILENCE) -> datetime:
    """The oldest bar a clock still judges: a day (or one bar, when longer) and three bars before
    it; older ones were judged by earlier clocks (a heartbeat back from an outage does not
    record days of MISSes at once)."""
    return clock - max(silence, interval) - 3 * interval - GRACE


def bars_missed(
    *,
    interval: timedelta,
    alert_bars: Collection[datetime],
    clock: datetime,
    recorded: Collection[datetime] = (),
    grace: timedelta = GRACE,
    silence: timedelta = SILENCE,
) -> list[datetime]:
    """Open times of the bars missed by the heartbeat's `clock`, oldest first, except those
    already `recorded`. `alert_bars` are the bars alerts answered (see `alert_bar`)."""
    if not alert_bars or interval <= timedelta(0):
        return []
    first = min(bar.astimezone(UTC) for bar in alert_bars)
    judgement = stream_judge(
        interval=interval,
        watch=Watch(first, first),
        answered=alert_bars,
        recorded=recorded,
        clock=clock,
        grace=grace,
        silence=silence,
    )
    return judgement.missed


__all__ = [
    "GRACE",
    "SILENCE",
    "Judgement",
    "Watch",
    "alert_bar",
    "bar_floor",
    "bars_missed",
    "judged_since",
    "stream_judge",
    "watched_until",
]
