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
    answered = {bar.astimezone(UTC) for bar in alert_bars}
    done = answered | {bar.astimezone(UTC) for bar in recorded}
    last_close = watched_until(interval=interval, last_bar=max(answered), silence=silence)
    missed = []
    bar = min(answered) + interval
    while bar + interval + grace <= clock and bar + interval <= last_close:
        if bar not in done:
            missed.append(bar)
        bar += interval
    return missed


__all__ = ["GRACE", "SILENCE", "alert_bar", "bar_floor", "bars_missed", "watched_until"]
