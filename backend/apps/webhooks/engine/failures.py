"""What a failure means for an alert: final at once (recorded as an error, never retried) or
worth a retry; and, when one ends an alert, a record that says whether anything was sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError
from django.utils import timezone

from apps.core.metrics import ALERTS_FAILED, metric_incr
from apps.core.streams import text
from apps.webhooks.engine.recording import storable
from apps.webhooks.models import Order, Webhook, WebhookStatus
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.errors import AlertInvalid, ConfigurationError, ExchangeRejected, OrderInvalid, TradingError
from trading.numbers import decimal_text, id_from

logger = logging.getLogger("aristobot.engine")

# Failures no retry can cure: the alert is recorded as an error at once. Only TemporaryError
# and truly unexpected exceptions (a bug, a lost database connection) are retried.
FINAL_ERRORS: tuple[type[BaseException], ...] = (
    AlertInvalid,
    OrderInvalid,
    ExchangeRejected,
    ConfigurationError,
    ArithmeticError,  # decimal.InvalidOperation, overflow, division by zero: bad numbers
    ValueError,  # unreadable text or numbers
    ValidationError,
    DataError,  # a value the database cannot hold
)

_FINISHED = (WebhookStatus.PROCESSED, WebhookStatus.ERROR, WebhookStatus.MISS)
_NOT_FINAL_ORDER = ("new", "submitting", "open")


def is_final(error: BaseException) -> bool:
    """Whether retrying cannot cure this failure."""
    return isinstance(error, FINAL_ERRORS)


def failure_text(error: BaseException) -> str:
    """A failure as the trader reads it: a domain error's own message, else what kind of fault."""
    if isinstance(error, TradingError):
        return str(error)
    if isinstance(error, ArithmeticError):
        what = "its numbers cannot be computed"
    elif isinstance(error, DataError | ValidationError):
        what = "a value cannot be recorded"
    elif isinstance(error, ValueError):
        what = "a value cannot be read"
    else:
        what = "an unexpected error"
    detail = str(error)[:200]
    return f"{what} ({type(error).__name__}{': ' + detail if detail and detail != '[]' else ''})"


def orders_summary(webhook: Webhook | None) -> str:
    """Whether an alert reached the exchange, from its Order rows: what a trader must know
    before looking at the exchange by hand."""
    orders = list(Order.objects.filter(webhook=webhook).order_by("id")) if webhook is not None and webhook.pk else []
    if not orders:
        return "nothing was sent to the exchange"
    if all(order.status == "rejected" and not order.exchange_order_id for order in orders):
        return "nothing was placed on the exchange (" + "; ".join(_order_text(order) for order in orders) + ")"
    named = "; ".join(_order_text(order) for order in orders)
    unsure = any(order.status in _NOT_FINAL_ORDER for order in orders)
    advice = ": check them on the exchange" if unsure else ""
    return f"order(s) sent: {named}{advice}"


def _order_text(order: Order) -> str:
    filled = f", filled {decimal_text(order.filled)}" if order.filled else ""
    return f"{order.kind} {order.side} {decimal_text(order.amount)} {order.symbol} {order.client_order_id} {order.status}{filled}"


def alert_fail(*, stream_id: str, fields: dict[Any, Any] | None, reason: str) -> Webhook:
    """End an alert's stream entry as an error with `reason` and what reached the exchange:
    its row is created when none exists (a bad entry, one held behind another), kept when
    already finished."""
    webhook = Webhook.objects.filter(stream_id=stream_id).first()
    if webhook is not None and webhook.status in _FINISHED:
        return webhook
    message = storable(f"{reason}; {orders_summary(webhook)}")
    now = timezone.now()
    if webhook is None:
        data = {text(key): text(value) for key, value in (fields or {}).items()}
        try:
            webhook = Webhook.objects.create(
                stream_id=stream_id,
                trace_id=data.get("trace_id", "")[:40],
                user_id=_user_id(data.get("user_id", "")),
                raw_payload=storable({"body": data.get("body", "")[:4096]}),
                received_at=_moment(data.get("received_at", "")) or now,
                status=WebhookStatus.ERROR,
                error_message=message,
                processed_at=now,
            )
        except IntegrityError:
            if Webhook.objects.filter(stream_id=stream_id).exists():  # another engine recorded it meanwhile
                return alert_fail(stream_id=stream_id, fields=fields, reason=reason)
            raise
    else:
        Webhook.objects.filter(pk=webhook.pk).update(
            status=WebhookStatus.ERROR, error_message=message, processed_at=now
        )
        webhook.status, webhook.error_message, webhook.processed_at = WebhookStatus.ERROR, message, now
        announce_rows(PushKind.WEBHOOK, [webhook])  # update() fires no signal
    metric_incr(ALERTS_FAILED)
    logger.error("alert #%s (entry %s) is an error: %s", webhook.pk, stream_id, message)
    return webhook


def _user_id(value: str) -> int | None:
    user_id = id_from(value)
    return user_id if user_id is not None and get_user_model().objects.filter(pk=user_id).exists() else None


def _moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
