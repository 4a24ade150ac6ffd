"""Settling orders whose answer was never recorded (the engine died while waiting)."""

from __future__ import annotations

import logging

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.positions import order_follow_up, order_state_apply, protection_sync
from apps.webhooks.models import Order, PositionStatus, WebhookStatus
from trading.errors import OrderNotFound, TemporaryError, TradingError
from trading.orders import OrderStatus

logger = logging.getLogger(__name__)


def orders_reconcile(gateway: GatewayClient) -> int:
    """Look up every order still `submitting` or `open` by client order id and apply what the
    exchange says. An order the exchange never received is marked rejected; the alert that
    caused it, if still unfinished, is re-run from its pending stream entry. Returns the count settled."""
    settled = 0
    unfinished_alerts = [WebhookStatus.RECEIVED, WebhookStatus.PROCESSING]
    orders = Order.objects.filter(status__in=[OrderStatus.SUBMITTING, OrderStatus.OPEN]).select_related(
        "webhook", "position"
    )
    for order in orders.order_by("id"):
        if order.webhook is not None and order.webhook.status in unfinished_alerts:
            continue  # its alert's stream entry is still pending and will settle it
        try:
            state = gateway.fetch_order(order.broker_id, symbol=order.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            if order.status == OrderStatus.SUBMITTING:
                order.status = OrderStatus.REJECTED
                order.error_message = "never reached the exchange (found no order with this client id at restart)"
                order.save(update_fields=["status", "error_message", "updated_at"])
                settled += 1
                position = order.position
                if position is not None and position.status == PositionStatus.OPEN:
                    _reprotect(position, gateway, origin=f"o{order.pk}r")
            continue
        except TemporaryError as exc:
            logger.warning("reconciliation of %s postponed: %s", order.client_order_id, exc)
            continue
        except TradingError as exc:
            logger.warning("reconciliation of %s failed: %s", order.client_order_id, exc)
            continue
        if state.status != order.status or state.filled != order.filled:
            order_state_apply(order, state)
            order_follow_up(order, gateway)
            settled += 1
    if settled:
        logger.info("reconciled %d order(s) at start", settled)
    return settled


def _reprotect(position: object, gateway: GatewayClient, *, origin: str) -> None:
    try:
        protection_sync(position, gateway, origin=origin)  # type: ignore[arg-type]
    except TradingError as exc:
        logger.error("position #%s could not be re-protected: %s", getattr(position, "pk", "?"), exc)
