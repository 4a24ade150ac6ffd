"""Settling orders whose outcome the engine has not recorded: at start (it died while waiting)
and periodically for live exchanges, whose resting orders fill without telling anyone."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db.models import QuerySet

from apps.brokers.models import PAPER_EXCHANGE
from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.positions import PROTECTIVE, order_follow_up, order_state_apply, protection_sync
from apps.webhooks.models import Order, PositionStatus, WebhookState, WebhookStatus
from trading.errors import OrderNotFound, TemporaryError, TradingError
from trading.orders import OrderState, OrderStatus

logger = logging.getLogger(__name__)

UNFINISHED_ALERTS = (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING)


def _candidates(*, live_only: bool) -> QuerySet[Order]:
    orders = Order.objects.filter(status__in=[OrderStatus.SUBMITTING, OrderStatus.OPEN]).select_related(
        "webhook", "position", "broker"
    )
    if live_only:
        orders = orders.exclude(broker__exchange=PAPER_EXCHANGE)
    return orders.order_by("id")


def orders_reconcile(
    gateway: GatewayClient, *, live_only: bool = False, owned: Callable[[int | None, str], bool] | None = None
) -> int:
    """Look up orders still `submitting` or `open` by client order id and apply what the
    exchange says; fills first, so that a target's fill is known before its stop's expiry.

    An order the exchange never received is marked rejected; a protective order that
    disappeared is marked cancelled and its position protected again. With `owned(user_id,
    symbol)`, only the orders of this engine's partitions. Returns the count settled.
    """
    answers: list[tuple[Order, OrderState]] = []
    settled = 0
    for order in _candidates(live_only=live_only):
        if owned is not None and not owned(order.user_id, order.symbol):
            continue  # another engine owns its partition
        if order.webhook is not None and order.webhook.status in UNFINISHED_ALERTS:
            continue  # its alert's stream entry is still pending and will settle it
        try:
            state = gateway.fetch_order(order.broker_id, symbol=order.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            settled += _vanished(order, gateway)
            continue
        except TradingError as exc:
            level = logging.INFO if isinstance(exc, TemporaryError) else logging.WARNING
            logger.log(level, "reconciliation of %s postponed: %s", order.client_order_id, exc)
            continue
        if state.status != order.status or state.filled != order.filled:
            answers.append((order, state))
    answers.sort(key=lambda pair: (pair[1].status != OrderStatus.FILLED, pair[0].pk))
    for order, state in answers:
        order_state_apply(order, state)
    for order, _state in answers:
        order_follow_up(order, gateway)
    settled += len(answers)
    if settled:
        logger.info("reconciled %d order(s)", settled)
    return settled


def _vanished(order: Order, gateway: GatewayClient) -> int:
    if order.status == OrderStatus.SUBMITTING:
        order.error_message = "never reached the exchange (no order with this client id was found)"
        order.status = OrderStatus.REJECTED
    else:
        order.error_message = "disappeared from the exchange"
        order.status = OrderStatus.CANCELED
    order.save(update_fields=["status", "error_message", "updated_at"])
    position = order.position
    if order.kind in PROTECTIVE and position is not None and position.status == PositionStatus.OPEN:
        logger.error("protective order %s of position #%s %s", order.client_order_id, position.pk, order.error_message)
        _reprotect(position, gateway, origin=f"o{order.pk}r")
    return 1


def _reprotect(position: WebhookState, gateway: GatewayClient, *, origin: str) -> None:
    try:
        protection_sync(position, gateway, origin=origin)
    except TradingError as exc:
        logger.error("position #%s is NOT protected: %s", position.pk, exc)
