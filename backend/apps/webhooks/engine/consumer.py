"""The engine's stream consumer: alerts, exchange events and heartbeat candles in, each
acknowledged only once its outcome is recorded. Crashed tries are taken up again; entries that
keep failing go to the dead-letter stream and show up as errors."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from redis.exceptions import ResponseError

from apps.core.gateway_client import GatewayClient
from apps.core.streams import (
    ENGINE_GROUP,
    EXCHANGE_EVENTS,
    HEARTBEAT,
    STREAM_KEEP_SECONDS,
    STREAM_MAXLEN,
    WEBHOOK_DEAD,
    WEBHOOK_RAW,
    Candle,
    ExchangeEvent,
    RawAlert,
)
from apps.core.trim import stream_trim_acknowledged
from apps.webhooks.engine.dedup import Deduplicator
from apps.webhooks.engine.execution import AlertExecutor
from apps.webhooks.engine.market import StalePrices, candle_handle
from apps.webhooks.engine.partitions import HEARTBEAT_PREFIX, Partitioner
from apps.webhooks.engine.positions import order_follow_up, order_state_apply
from apps.webhooks.engine.reconcile import orders_reconcile
from apps.webhooks.engine.recording import alert_record
from apps.webhooks.models import Order, Webhook, WebhookStatus
from trading.errors import TemporaryError

logger = logging.getLogger("aristobot.engine")

STREAMS = (WEBHOOK_RAW, EXCHANGE_EVENTS, HEARTBEAT)
TRIM_EVERY_SECONDS = 300
RECONCILE_EVERY_SECONDS = 10


def _entry_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class TradingEngine:
    """One engine process. `step()` handles one batch and returns whether there was work."""

    def __init__(
        self,
        client: redis.Redis,
        gateway: GatewayClient,
        *,
        consumer: str | None = None,
        retry_idle_ms: int = 5000,
        max_deliveries: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.redis = client
        self.gateway = gateway
        self.consumer = consumer or f"engine-{socket.gethostname()}"
        self.retry_idle_ms = retry_idle_ms
        self.max_deliveries = max_deliveries or settings.ALERT_MAX_DELIVERIES
        self.dedup = Deduplicator(client, window_seconds=settings.ALERT_DEDUP_WINDOW_SECONDS)
        self.executor = AlertExecutor(gateway)
        self.partitions = Partitioner()
        self.stale_prices = StalePrices(client, max_age_seconds=settings.HEARTBEAT_STALE_SECONDS)
        self._held: dict[str, set[str]] = {}  # partition → entries waiting behind an unfinished one
        threads = settings.ENGINE_THREADS if threads is None else threads
        self._threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engine") if threads > 1 else None
        self._last_retry_scan = 0.0
        self._last_trim = 0.0
        self._last_reconcile = time.monotonic()
        self.processed = 0

    def start(self) -> None:
        """Create the consumer groups, take up this consumer's unfinished entries, reconcile orders."""
        for stream in STREAMS:
            try:
                # From the beginning: alerts received before the engine ever ran are processed.
                self.redis.xgroup_create(stream, ENGINE_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._handle_batch(self._read(pending=True))
        orders_reconcile(self.gateway)

    def step(self, block_ms: int = 1000) -> bool:
        close_old_connections()
        if time.monotonic() - self._last_retry_scan > self.retry_idle_ms / 1000:
            self._last_retry_scan = time.monotonic()
            self._retry_stale()
        if not self.gateway.force_paper and time.monotonic() - self._last_reconcile > RECONCILE_EVERY_SECONDS:
            # Live exchanges do not tell us when a resting order fills: ask them.
            self._last_reconcile = time.monotonic()
            orders_reconcile(self.gateway, live_only=True)
        self.stale_prices.check()
        if time.monotonic() - self._last_trim > TRIM_EVERY_SECONDS:
            self._last_trim = time.monotonic()
            for stream in STREAMS:
                stream_trim_acknowledged(self.redis, stream, ENGINE_GROUP, keep_seconds=STREAM_KEEP_SECONDS)
        return self._handle_batch(self._read(pending=False, block_ms=block_ms), first_delivery=True) > 0

    def close(self) -> None:
        """Stop the worker threads (their database connections close with them)."""
        if self._pool is not None:
            workers = self._threads
            barrier = threading.Barrier(workers)

            def close_mine() -> None:  # one task per thread: the barrier keeps each on its own
                connections.close_all()
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=5)

            for future in [self._pool.submit(close_mine) for _ in range(workers)]:
                future.result()
            self._pool.shutdown(wait=True)
            self._pool = None

    def _read(self, *, pending: bool, block_ms: int = 1000) -> list[Any]:
        ids: Any = {stream: "0" if pending else ">" for stream in STREAMS}
        response: Any = self.redis.xreadgroup(
            ENGINE_GROUP, self.consumer, ids, count=50, block=None if pending else block_ms
        )
        return response or []

    def _handle_batch(self, response: list[Any], *, first_delivery: bool = False) -> int:
        """Run a batch: partitions concurrently, each in stream order, none past its first failure."""
        groups: dict[str, list[tuple[str, str, dict[Any, Any]]]] = {}
        for stream, entries in response:
            for entry_id, fields in entries:
                if fields is None:  # deleted while pending
                    self.redis.xack(_text(stream), ENGINE_GROUP, entry_id)
                    continue
                key = self.partitions.key(_text(stream), fields)
                if key in self._held:  # an earlier entry of this partition is unfinished: wait
                    self._held[key].add(_text(entry_id))
                    continue
                groups.setdefault(key, []).append((_text(stream), _text(entry_id), fields))
        for group in groups.values():
            group.sort(key=lambda item: _entry_order(item[1]))
        # Candles mark, guard and fill every user's positions on a symbol: they run after the
        # batch's alert and event partitions, one at a time, so never beside an alert of theirs.
        candles = {key: group for key, group in groups.items() if key.startswith(HEARTBEAT_PREFIX)}
        others = {key: group for key, group in groups.items() if key not in candles}
        done: list[tuple[str, str]] = []  # list.append is atomic: the threads share it
        try:
            if self._pool is None or len(others) < 2:
                for key, group in others.items():
                    self._run_partition(key, group, first_delivery, done)
            else:
                runs = self._pool.map(
                    lambda kv: self._run_partition(kv[0], kv[1], first_delivery, done), others.items()
                )
                list(runs)
            for key, group in candles.items():
                self._run_partition(key, group, first_delivery, done)
        finally:
            self._ack(done)
        return sum(len(group) for group in groups.values())

    def _run_partition(
        self, key: str, group: list[tuple[str, str, dict[Any, Any]]], first_delivery: bool, done: list[tuple[str, str]]
    ) -> None:
        if threading.current_thread() is not threading.main_thread():
            close_old_connections()
        for position, (stream, entry_id, fields) in enumerate(group):
            if self.handle(stream, entry_id, fields, first_delivery=first_delivery, ack=False):
                done.append((stream, entry_id))
            else:
                # Later entries of this partition wait until this one is done (never reordered).
                self._held.setdefault(key, set()).update(item[1] for item in group[position:])
                return

    def handle(
        self, stream: str, entry_id: str, fields: dict[Any, Any], *, first_delivery: bool = False, ack: bool = True
    ) -> bool:
        """Handle one entry; acknowledged only when its outcome is recorded (by the caller when
        `ack` is False). True when done."""
        try:
            if stream == WEBHOOK_RAW:
                self.alert_handle(entry_id, RawAlert.from_fields(fields), first_delivery=first_delivery)
            elif stream == HEARTBEAT:
                candle_handle(Candle.from_fields(fields), self.gateway)
            else:
                self.event_handle(ExchangeEvent.from_fields(fields))
        except TemporaryError as exc:
            logger.warning("%s %s not finished, will retry: %s", stream, entry_id, exc)
            return False
        except Exception:
            logger.exception("%s %s failed, will retry", stream, entry_id)
            return False
        if ack:
            self.redis.xack(stream, ENGINE_GROUP, entry_id)
        self.processed += 1
        return True

    def _ack(self, done: list[tuple[str, str]]) -> None:
        """Acknowledge handled entries in one round trip (a re-delivery after a crash before
        this finds their records and does nothing twice)."""
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id in done:
            by_stream.setdefault(stream, []).append(entry_id)
        if by_stream:
            pipe = self.redis.pipeline(transaction=False)
            for stream, ids in by_stream.items():
                pipe.xack(stream, ENGINE_GROUP, *ids)
            pipe.execute()

    def alert_handle(self, entry_id: str, raw: RawAlert, *, first_delivery: bool = False) -> None:
        recorded = alert_record(stream_id=entry_id, raw=raw, dedup=self.dedup, first_delivery=first_delivery)
        webhook = recorded.webhook
        if recorded.alert is None or webhook.status not in (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING):
            if webhook.status in (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING):
                webhook.status = WebhookStatus.ERROR
                webhook.error_message = webhook.error_message or "the alert could not be read again after a restart"
                webhook.processed_at = timezone.now()
                webhook.save()
            logger.info(
                "alert #%s %s %s: %s %s",
                webhook.pk,
                webhook.action,
                webhook.symbol,
                webhook.status,
                webhook.error_message,
            )
            return
        self.executor.execute(webhook, recorded.alert, fresh=recorded.fresh)
        logger.info(
            "alert #%s %s %s: %s %s", webhook.pk, webhook.action, webhook.symbol, webhook.status, webhook.error_message
        )

    def event_handle(self, event: ExchangeEvent) -> None:
        order = Order.objects.filter(broker_id=event.broker_id, client_order_id=event.order.client_order_id).first()
        if order is None:
            logger.info("event for an order Aristobot did not place: %s", event.order.client_order_id)
            return
        order_state_apply(order, event.order)
        order_follow_up(order, self.gateway)
        logger.info("order %s is %s (filled %s)", order.client_order_id, event.order.status, event.order.filled)

    def _retry_stale(self) -> None:
        """Take up entries left unfinished: ours after a failure or held behind one, and those
        of a dead engine; in stream order, a partition stopping at its first failure."""
        candidates: list[tuple[str, str, int]] = []
        for stream in STREAMS:
            stale: Any = self.redis.xpending_range(
                stream, ENGINE_GROUP, min="-", max="+", count=200, idle=self.retry_idle_ms
            )
            candidates += [(stream, _text(item["message_id"]), int(item["times_delivered"])) for item in stale]
        held_ids = {entry_id for ids in self._held.values() for entry_id in ids}
        pending: Any = {} if not held_ids else self._pending_ids()
        candidates += [(stream, entry_id, 1) for stream, entry_id in pending if entry_id in held_ids]
        seen: set[str] = set()
        failed: dict[str, set[str]] = {}
        for stream, entry_id, delivered in sorted(candidates, key=lambda c: _entry_order(c[1])):
            if entry_id in seen:
                continue
            seen.add(entry_id)
            if delivered >= self.max_deliveries:
                self._dead_letter(stream, entry_id)
                continue
            claimed: Any = self.redis.xclaim(stream, ENGINE_GROUP, self.consumer, 0, [entry_id])
            for claimed_id, fields in claimed:
                if not fields:
                    self.redis.xack(stream, ENGINE_GROUP, claimed_id)
                    continue
                key = self.partitions.key(stream, fields)
                if key in failed or not self.handle(stream, _text(claimed_id), fields):
                    failed.setdefault(key, set()).add(_text(claimed_id))
        self._held = failed

    def _pending_ids(self) -> list[tuple[str, str]]:
        ids = []
        for stream in STREAMS:
            entries: Any = self.redis.xpending_range(stream, ENGINE_GROUP, min="-", max="+", count=1000)
            ids += [(stream, _text(item["message_id"])) for item in entries]
        return ids

    def _dead_letter(self, stream: str, entry_id: str) -> None:
        entries: Any = self.redis.xrange(stream, min=entry_id, max=entry_id)
        fields = entries[0][1] if entries else {}
        record = {**{_text(k): _text(v) for k, v in fields.items()}, "stream": stream, "entry_id": entry_id}
        self.redis.xadd(WEBHOOK_DEAD, record, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        if stream == WEBHOOK_RAW:
            Webhook.objects.filter(stream_id=entry_id).exclude(
                status__in=[WebhookStatus.PROCESSED, WebhookStatus.ERROR]
            ).update(
                status=WebhookStatus.ERROR,
                processed_at=timezone.now(),
                error_message=(
                    f"gave up after {self.max_deliveries} attempts (see the dead-letter stream {WEBHOOK_DEAD}); "
                    "check the orders of this alert on the exchange"
                ),
            )
        self.redis.xack(stream, ENGINE_GROUP, entry_id)
        logger.error("%s %s moved to %s after %d deliveries", stream, entry_id, WEBHOOK_DEAD, self.max_deliveries)
