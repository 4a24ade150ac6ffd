"""MISS detection in the engine: the watched alert streams, kept as alerts are recorded, and
the verdicts a heartbeat candle brings (the rule itself is `trading/miss.py`).

Recording an alert inserts its stream (once) and the bar it answered (`AlertStreamBar`); a
candle reads the streams of its symbol with a bar due and those bars, records the MISSes, moves
each stream's watch forward and removes the bars it judged. So a candle costs what its symbol's
streams need now, never a scan of the Webhook history; and recording only inserts, so it never
races a candle over a row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from apps.webhooks.models import AlertStream, AlertStreamBar, Webhook, WebhookStatus
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.alerts import interval_parse
from trading.errors import AlertInvalid
from trading.markets import symbol_key
from trading.miss import GRACE, SILENCE, Watch, alert_bar, judged_since, stream_judge

logger = logging.getLogger("aristobot.engine")

MISS = "MISS"
FILL_LOOKBACK = timedelta(days=8)  # at migration: streams with an alert this recent (weekly ones) are watched
_CHUNK = 500

Owned = Callable[[int | None, str], bool]  # (user id, symbol) → whether this engine owns that partition


@dataclass(frozen=True)
class StreamAlert:
    """What an alert row tells its stream: which stream, and the bar it answered."""

    key: str
    user_id: int
    broker_id: int | None
    symbol_key: str
    symbol: str
    interval: str
    length: timedelta
    bar: datetime


def stream_alert(
    *,
    user_id: int | None,
    broker_id: int | None,
    symbol: str,
    interval: str,
    action: str,
    bar_time: datetime | None,
    received_at: datetime,
) -> StreamAlert | None:
    """The stream an alert row belongs to, or None when it belongs to none (no user, no or a bad
    interval, a MISS). Any alert counts, even one that failed."""
    if user_id is None or not interval or action == MISS:
        return None
    key = symbol_key(symbol)
    if not key:
        return None
    try:
        length = interval_parse(interval)
    except AlertInvalid:
        return None
    seconds = int(length.total_seconds())
    return StreamAlert(
        key=f"{user_id}:{broker_id if broker_id is not None else '-'}:{key}:{seconds}",
        user_id=user_id,
        broker_id=broker_id,
        symbol_key=key,
        symbol=symbol,
        interval=interval,
        length=length,
        bar=alert_bar(interval=length, bar_time=bar_time, received_at=received_at).astimezone(UTC),
    )


def _stream_row(alert: StreamAlert, model: Any = AlertStream) -> Any:
    """A new stream: its first alert's bar is judged (bars after it are expected)."""
    return model(
        key=alert.key,
        user_id=alert.user_id,
        broker_id=alert.broker_id,
        symbol_key=alert.symbol_key,
        symbol=alert.symbol,
        interval=alert.interval,
        interval_seconds=int(alert.length.total_seconds()),
        judged=alert.bar,
        last_bar=alert.bar,
        due_at=alert.bar + 2 * alert.length + GRACE,
    )


def _bar_row(
    alert: StreamAlert, *, bar: datetime | None = None, missed: bool = False, model: Any = AlertStreamBar
) -> Any:
    return model(
        stream_key=alert.key,
        symbol_key=alert.symbol_key,
        bar=alert.bar if bar is None else bar,
        missed=missed,
        symbol=alert.symbol,
        interval=alert.interval,
    )


def stream_note(webhook: Webhook) -> None:
    """Tell its stream about a recorded alert: two inserts that change nothing when present."""
    alert = stream_alert(
        user_id=webhook.user_id,
        broker_id=webhook.broker_id,
        symbol=webhook.symbol,
        interval=webhook.interval,
        action=webhook.action,
        bar_time=webhook.bar_time,
        received_at=webhook.received_at,
    )
    if alert is None:
        return
    AlertStream.objects.bulk_create([_stream_row(alert)], ignore_conflicts=True)
    AlertStreamBar.objects.bulk_create([_bar_row(alert)], ignore_conflicts=True)


def misses_record(*, symbol: str, clock: datetime, owned: Owned | None = None) -> list[Webhook]:
    """Record one MISS per bar of `symbol`'s alert streams that closed without its alert by the
    heartbeat's `clock`; safe to run twice for one candle. Reads the streams with a bar due and
    the bars answered since they were last judged, in one transaction."""
    key = symbol_key(symbol)
    if not key:
        return []
    with transaction.atomic():
        bars: dict[str, list[tuple[int, datetime, bool, str, str]]] = defaultdict(list)
        for row in AlertStreamBar.objects.filter(symbol_key=key).values_list(
            "id", "stream_key", "bar", "missed", "symbol", "interval"
        ):
            bars[row[1]].append((row[0], row[2], row[3], row[4], row[5]))
        locked = AlertStream.objects.select_for_update().order_by("pk").values_list(*_STREAM_FIELDS, named=True)
        streams = list(locked.filter(symbol_key=key, due_at__lte=clock))
        woken = set(bars) - {stream.key for stream in streams}
        for chunk in _chunks(sorted(woken)):
            streams += locked.filter(key__in=chunk)
        present = {stream.key for stream in streams}
        judged_bars = [row[0] for stream_key in woken - present for row in bars[stream_key]]  # stream gone
        misses: list[Webhook] = []
        moved: dict[tuple[datetime, datetime, datetime | None], list[int]] = defaultdict(list)
        for stream in streams:
            if owned is not None and not owned(stream.user_id, stream.symbol):
                continue
            judged_bars += _stream_judge(stream, bars.get(stream.key, []), clock=clock, misses=misses, moved=moved)
        Webhook.objects.bulk_create(misses)
        for (judged, last_bar, due_at), ids in moved.items():
            for chunk in _chunks(ids):
                AlertStream.objects.filter(pk__in=chunk).update(judged=judged, last_bar=last_bar, due_at=due_at)
        for chunk in _chunks(judged_bars):
            AlertStreamBar.objects.filter(pk__in=chunk).delete()
    for webhook in misses:
        logger.warning("MISS #%s %s %s: %s", webhook.pk, webhook.symbol, webhook.interval, webhook.error_message)
    announce_rows(PushKind.WEBHOOK, misses, created=True)  # bulk_create fires no signal
    return misses


_STREAM_FIELDS = (
    "pk",
    "key",
    "user_id",
    "broker_id",
    "symbol",
    "interval",
    "interval_seconds",
    "judged",
    "last_bar",
    "due_at",
)


def _stream_judge(
    stream: Any,
    bars: list[tuple[int, datetime, bool, str, str]],
    *,
    clock: datetime,
    misses: list[Webhook],
    moved: dict[tuple[datetime, datetime, datetime | None], list[int]],
) -> list[int]:
    """Judge one stream; adds its MISS rows and new watch; returns the ids of the bars it judged."""
    length = timedelta(seconds=stream.interval_seconds)
    judgement = stream_judge(
        interval=length,
        watch=Watch(stream.judged, stream.last_bar),
        answered=[bar for _, bar, missed, _, _ in bars if not missed],
        recorded=[bar for _, bar, missed, _, _ in bars if missed],
        clock=clock,
        not_before=judged_since(interval=length, clock=clock),
    )
    judged = judgement.watch.judged
    spelled = [(bar, symbol, interval) for _, bar, missed, symbol, interval in bars if not missed and bar <= judged]
    if spelled:
        _, symbol, interval = max(spelled)
        if (symbol, interval) != (stream.symbol, stream.interval):  # as its latest alert spells it
            AlertStream.objects.filter(pk=stream.pk).update(symbol=symbol, interval=interval)
            stream = stream._replace(symbol=symbol, interval=interval)
    misses.extend(_miss_row(stream, bar=bar, length=length, clock=clock) for bar in judgement.missed)
    watch = (judgement.watch.judged, judgement.watch.last_bar, judgement.due)
    if watch != (stream.judged, stream.last_bar, stream.due_at):
        moved[watch].append(stream.pk)
    return [pk for pk, bar, _, _, _ in bars if bar <= judged]


def _miss_row(stream: Any, *, bar: datetime, length: timedelta, clock: datetime) -> Webhook:
    close = bar + length
    message = (
        f"no alert for the {stream.interval} bar opened {bar:%Y-%m-%d %H:%M} UTC: it closed at "
        f"{close:%Y-%m-%d %H:%M} and nothing arrived by {close + GRACE:%H:%M} (heartbeat clock {clock:%H:%M})"
    )
    return Webhook(
        user_id=stream.user_id,
        broker_id=stream.broker_id,
        symbol=stream.symbol,
        interval=stream.interval,
        action=MISS,
        status=WebhookStatus.MISS,
        bar_time=bar,
        received_at=clock,
        processed_at=clock,
        error_message=message,
    )


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def streams_fill(*, webhooks: Any, streams: Any, stream_bars: Any, now: datetime) -> int:
    """Make the watched streams from the alerts of the last 8 days (a migration runs this with
    its own models): each stream's first alert in that time is judged, its later alerts and
    recorded MISSes wait as bars, so the next candle judges the rest as before. Returns the count."""
    found: dict[str, StreamAlert] = {}
    pending: list[Any] = []
    rows = (
        webhooks.objects.filter(received_at__gte=now - FILL_LOOKBACK, user__isnull=False)
        .exclude(interval="")
        .order_by("received_at", "id")
        .values_list("user_id", "broker_id", "symbol", "interval", "action", "bar_time", "received_at")
    )
    misses: list[tuple[int, int | None, str, str, datetime]] = []
    for user_id, broker_id, symbol, interval, action, bar_time, received_at in rows.iterator(chunk_size=2000):
        if action == MISS:
            if bar_time is not None:
                misses.append((user_id, broker_id, symbol, interval, bar_time))
            continue
        alert = stream_alert(
            user_id=user_id,
            broker_id=broker_id,
            symbol=symbol,
            interval=interval,
            action=action,
            bar_time=bar_time,
            received_at=received_at,
        )
        if alert is None:
            continue
        first = found.get(alert.key)
        if first is None or alert.bar < first.bar:
            found[alert.key] = alert
        pending.append(_bar_row(alert, model=stream_bars))
    for user_id, broker_id, symbol, interval, bar_time in misses:
        alert = stream_alert(
            user_id=user_id,
            broker_id=broker_id,
            symbol=symbol,
            interval=interval,
            action="",
            bar_time=bar_time,
            received_at=bar_time,
        )
        if alert is not None and alert.key in found:
            pending.append(_bar_row(alert, missed=True, model=stream_bars))
    streams.objects.bulk_create([_stream_row(alert, model=streams) for alert in found.values()], ignore_conflicts=True)
    stream_bars.objects.bulk_create(pending, batch_size=_CHUNK, ignore_conflicts=True)
    return len(found)


__all__ = ["MISS", "SILENCE", "StreamAlert", "misses_record", "stream_alert", "stream_note", "streams_fill"]
