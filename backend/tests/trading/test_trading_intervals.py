"""TradingView `timeframe.period` values as durations, for MISS detection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trading.alerts import interval_parse
from trading.errors import AlertInvalid


def test_interval_240_is_four_hours() -> None:
    assert interval_parse("240") == timedelta(hours=4)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", timedelta(minutes=1)),
        ("3", timedelta(minutes=3)),
        ("45", timedelta(minutes=45)),
        ("60", timedelta(hours=1)),
        ("120", timedelta(hours=2)),
        ("D", timedelta(days=1)),
        ("1D", timedelta(days=1)),
        ("3D", timedelta(days=3)),
        ("W", timedelta(weeks=1)),
        ("1W", timedelta(weeks=1)),
        ("15S", timedelta(seconds=15)),
        ("30S", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        (" 15 ", timedelta(minutes=15)),
    ],
)
def test_tradingview_and_exchange_intervals_are_durations(raw: str, expected: timedelta) -> None:
    assert interval_parse(raw) == expected


@pytest.mark.parametrize("raw", ["M", "1M", "3M"])
def test_monthly_intervals_are_refused_rather_than_guessed(raw: str) -> None:
    with pytest.raises(AlertInvalid, match="monthly intervals are not supported for MISS detection"):
        interval_parse(raw)


def test_lowercase_m_is_minutes_not_months() -> None:
    assert interval_parse("1m") == timedelta(minutes=1)


@pytest.mark.parametrize("raw", ["", "0", "abc", "1T", "100R", "1.5h", "{{interval}}"])
def test_other_intervals_are_rejected(raw: str) -> None:
    with pytest.raises(AlertInvalid, match="Interval"):
        interval_parse(raw)
