"""Cancelling a position's resting orders (its protection, its exits); a fill the exchange
reports meanwhile is carried to the position like any other."""

from __future__ import annotations

from django.utils import timezone

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.orders import LIVE, PROTECTIVE, STATUS_FIELDS, order_copy_status, orders_save
from apps.webhooks.engine.rows import rows_select
from apps.webhooks.models import Order, WebhookState
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.errors import OrderNotFound, TradingError
from trading.orders import OrderKind, OrderStatus


def protective_orders(position: WebhookState) -> list[Order]:
    return rows_select(Order, position=position.pk, kind__in=PROTECTIVE, status__in=LIVE, order_by="id")


def protection_cancel(position: WebhookState, gateway: GatewayClient) -> None:
    """Cancel the position's live stop-loss / take-profit; a fill found meanwhile is applied."""
    _orders_cancel(position, gateway, protective_orders(position))


def exits_cancel(position: WebhookState, gateway: GatewayClient) -> None:
    """Cancel the position's resting exits (limit sells); a fill found meanwhile is applied."""
    _orders_cancel(position, gateway, list(position.orders.filter(kind=OrderKind.EXIT, status__in=LIVE)))


def _orders_cancel(position: WebhookState, gateway: GatewayClient, orders: list[Order]) -> None:
    never_sent = [order.pk for order in orders if order.status == OrderStatus.NEW]
    if never_sent:
        Order.objects.filter(pk__in=never_sent).update(status=OrderStatus.CANCELED, updated_at=timezone.now())
        announce_rows(PushKind.ORDER, [order for order in orders if order.pk in never_sent])
    sent = [order for order in orders if order.status != OrderStatus.NEW]
    if not sent:
        return
    answers = gateway.routed(paper=position.paper).cancel_orders(
        position.broker_id, symbol=position.symbol, client_order_ids=[order.client_order_id for order in sent]
    )
    quiet, filled, failure = [], False, None
    for order, answer in zip(sent, answers, strict=True):
        if isinstance(answer, OrderNotFound):
            order.status, order.error_message = OrderStatus.CANCELED, "not found on the exchange"
            order.updated_at = timezone.now()
            quiet.append(order)
        elif isinstance(answer, TradingError):
            failure = failure or answer  # raised once the answers already learned are saved
        elif answer.filled <= order.fill_applied:  # the usual case: cancelled, nothing filled
            order_copy_status(order, answer)
            quiet.append(order)
        else:
            order_state_apply(order, answer)
            filled = True
    orders_save(quiet, [*STATUS_FIELDS, "error_message"])
    if filled:
        position.refresh_from_db()
    if failure is not None:
        raise failure
