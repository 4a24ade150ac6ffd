"""The engine's stream consumer: alerts and exchange events in, each acknowledged only once
its outcome is recorded. Crashed tries are taken up again; entries that keep failing go to
the dead-letter stream and show up as errors."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from redis.exceptions import ResponseError

from apps.core.gateway_client import GatewayClient
from apps.core.streams import (
    ENGINE_GROUP,
    EXCHANGE_EVENTS,
    STREAM_KEEP_SECONDS,
    STREAM_MAXLEN,
    WEBHOOK_DEAD,
    WEBHOOK_RAW,
    ExchangeEvent,
    RawAlert,
)
from apps.core.trim import stream_trim_acknowledged
from apps.webhooks.engine.dedup import Deduplicator
from apps.webhooks.engine.execution import AlertExecutor
from apps.webhooks.engine.positions import order_follow_up, order_state_apply
from apps.webhooks.engine.reconcile import orders_reconcile
from apps.webhooks.engine.recording import alert_record
from apps.webhooks.models import Order, Webhook, WebhookStatus
from trading.errors import TemporaryError

logger = logging.getLogger("aristobot.engine")

STREAMS = (WEBHOOK_RAW, EXCHANGE_EVENTS)
TRIM_EVERY_SECONDS = 300
RECONCILE_EVERY_SECONDS = 10


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
    ) -> None:
        self.redis = client
        self.gateway = gateway
        self.consumer = consumer or f"engine-{socket.gethostname()}"
        self.retry_idle_ms = retry_idle_ms
        self.max_deliveries = max_deliveries or settings.ALERT_MAX_DELIVERIES
        self.dedup = Deduplicator(client, window_seconds=settings.ALERT_DEDUP_WINDOW_SECONDS)
        self.executor = AlertExecutor(gateway)
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
        if time.monotonic() - self._last_trim > TRIM_EVERY_SECONDS:
            self._last_trim = time.monotonic()
            for stream in STREAMS:
                stream_trim_acknowledged(self.redis, stream, ENGINE_GROUP, keep_seconds=STREAM_KEEP_SECONDS)
        return self._handle_batch(self._read(pending=False, block_ms=block_ms)) > 0

    def _read(self, *, pending: bool, block_ms: int = 1000) -> list[Any]:
        ids: Any = {stream: "0" if pending else ">" for stream in STREAMS}
        response: Any = self.redis.xreadgroup(
            ENGINE_GROUP, self.consumer, ids, count=50, block=None if pending else block_ms
        )
        return response or []

    def _handle_batch(self, response: list[Any]) -> int:
        handled = 0
        for stream, entries in response:
            for entry_id, fields in entries:
                if fields is None:  # deleted while pending
                    self.redis.xack(_text(stream), ENGINE_GROUP, entry_id)
                    continue
                self.handle(_text(stream), _text(entry_id), fields)
                handled += 1
        return handled

    def handle(self, stream: str, entry_id: str, fields: dict[Any, Any]) -> bool:
        """Handle one entry; acknowledged only when its outcome is recorded. True when done."""
        try:
            if stream == WEBHOOK_RAW:
                self.alert_handle(entry_id, RawAlert.from_fields(fields))
            else:
                self.event_handle(ExchangeEvent.from_fields(fields))
        except TemporaryError as exc:
            logger.warning("%s %s not finished, will retry: %s", stream, entry_id, exc)
            return False
        except Exception:
            logger.exception("%s %s failed, will retry", stream, entry_id)
            return False
        self.redis.xack(stream, ENGINE_GROUP, entry_id)
        self.processed += 1
        return True

    def alert_handle(self, entry_id: str, raw: RawAlert) -> None:
        recorded = alert_record(stream_id=entry_id, raw=raw, dedup=self.dedup)
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
        """Take over entries idle too long (ours after a failure, or a dead engine's)."""
        for stream in STREAMS:
            stale: Any = self.redis.xpending_range(
                stream, ENGINE_GROUP, min="-", max="+", count=50, idle=self.retry_idle_ms
            )
            for item in stale:
                entry_id = _text(item["message_id"])
                if int(item["times_delivered"]) >= self.max_deliveries:
                    self._dead_letter(stream, entry_id)
                    continue
                claimed: Any = self.redis.xclaim(stream, ENGINE_GROUP, self.consumer, self.retry_idle_ms, [entry_id])
                for claimed_id, fields in claimed:
                    if fields:
                        self.handle(stream, _text(claimed_id), fields)
                    else:
                        self.redis.xack(stream, ENGINE_GROUP, claimed_id)

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
