"""What one stream entry means, run to a recorded outcome: an alert recorded and executed, an
exchange event applied to its order and position, a heartbeat candle marking, guarding and
checking for missed alerts. A failure is final (recorded at once) or worth another try."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from apps.core.gateway_client import GatewayClient
from apps.core.logcontext import alert_trace
from apps.core.streams import HEARTBEAT, WEBHOOK_RAW, Candle, ExchangeEvent, RawAlert, text
from apps.webhooks.engine.dedup import Deduplicator
from apps.webhooks.engine.execution import AlertExecutor
from apps.webhooks.engine.failures import alert_fail, failure_text, is_final
from apps.webhooks.engine.follow_ups import order_follow_up_guarded
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.market import candle_handle
from apps.webhooks.engine.market_lock import market_hold
from apps.webhooks.engine.recording import BrokerDirectory, alert_record
from apps.webhooks.engine.retries import Retries
from apps.webhooks.models import Order, WebhookStatus
from trading.errors import TemporaryError

logger = logging.getLogger("aristobot.engine")


class EntryHandler:
    """Handles the entries of the engine's streams (see the module's docstring)."""

    def __init__(
        self,
        gateway: GatewayClient,
        *,
        brokers: BrokerDirectory,
        dedup: Deduplicator,
        retries: Retries,
    ) -> None:
        self.gateway = gateway
        self.brokers = brokers
        self.dedup = dedup
        self.retries = retries
        self.executor = AlertExecutor(gateway)

    def run(self, stream: str, entry_id: str, fields: dict[Any, Any], *, first_delivery: bool = False) -> bool:
        """Handle one entry to a recorded outcome; True when done (to acknowledge), False when
        it is worth another try."""
        try:
            if stream == WEBHOOK_RAW:
                self.alert_handle(entry_id, RawAlert.from_fields(fields), first_delivery=first_delivery)
            elif stream == HEARTBEAT:
                candle_handle(Candle.from_fields(fields), self.gateway)
            else:
                self.event_handle(ExchangeEvent.from_fields(fields))
        except TemporaryError as exc:
            logger.warning("%s %s not finished, will retry: %s", stream, entry_id, exc)
            self.retries.failed(entry_id, str(exc))
            return False
        except Exception as exc:
            if not is_final(exc):  # unexpected: maybe a lost connection, worth a retry
                logger.exception("%s %s failed, will retry", stream, entry_id)
                self.retries.failed(entry_id, failure_text(exc))
                return False
            # No retry can cure it (bad numbers, a value the database cannot hold): final now.
            if not self._final(stream, entry_id, fields, exc):
                return False
        self.retries.succeeded(entry_id)
        return True

    def _final(self, stream: str, entry_id: str, fields: dict[Any, Any], error: Exception) -> bool:
        """End an entry that failed for good: an alert is recorded as an error saying why and
        whether anything reached the exchange; another entry is logged and dropped. False when
        even that failed (retried then)."""
        try:
            if stream == WEBHOOK_RAW:
                with alert_trace(text(fields.get(b"trace_id", fields.get("trace_id", "")))):
                    alert_fail(stream_id=entry_id, fields=fields, reason=failure_text(error))
            else:
                logger.error("%s %s cannot be handled, dropped: %s", stream, entry_id, failure_text(error))
        except Exception:
            logger.exception("%s %s: recording its failure failed, will retry", stream, entry_id)
            return False
        return True

    def hold_record(self, stream: str, entry_id: str, fields: dict[Any, Any]) -> None:
        """Record an alert held behind an unfinished one of its partition (executed later)."""
        if stream != WEBHOOK_RAW:
            return
        try:
            alert_record(stream_id=entry_id, raw=RawAlert.from_fields(fields), dedup=self.dedup, brokers=self.brokers)
        except Exception as exc:  # the retry records it, or the dead letter does
            logger.warning("alert %s held and not recorded yet: %s", entry_id, failure_text(exc))

    def alert_handle(self, entry_id: str, raw: RawAlert, *, first_delivery: bool = False) -> None:
        with alert_trace(raw.trace_id):  # every log line about this alert carries its trace id
            self._alert_handle(entry_id, raw, first_delivery=first_delivery)

    def _alert_handle(self, entry_id: str, raw: RawAlert, *, first_delivery: bool) -> None:
        recorded = alert_record(
            stream_id=entry_id, raw=raw, dedup=self.dedup, first_delivery=first_delivery, brokers=self.brokers
        )
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
        if order.paper != event.paper or (self.gateway.force_paper and not order.paper):
            # A paper fill never changes a live order (nor a --test engine a live one).
            logger.warning(
                "event for %s ignored: the order is %s, the event came from the %s exchange",
                order.client_order_id,
                "paper" if order.paper else "live",
                "paper" if event.paper else "live",
            )
            return
        with market_hold(order.broker_id, order.symbol):
            order_state_apply(order, event.order)
            warning = order_follow_up_guarded(order, self.gateway)
        if warning:
            logger.warning("order %s: %s", order.client_order_id, warning)
        logger.info("order %s is %s (filled %s)", order.client_order_id, event.order.status, event.order.filled)
