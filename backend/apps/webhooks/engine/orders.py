"""Order rows: committed before the gateway is asked, then updated from its answer."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.brokers.models import Broker
from apps.core.gateway_client import GatewayClient
from apps.core.streams import order_state_to_dict
from apps.webhooks.engine.rows import row_insert, row_save, rows_update
from apps.webhooks.models import Order, Webhook, WebhookState
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.errors import DuplicateOrder, ExchangeRejected, OrderInvalid, OrderNotFound
from trading.orders import OrderKind, OrderRequest, OrderSide, OrderState, OrderStatus, OrderType

logger = logging.getLogger(__name__)

PROTECTIVE = (OrderKind.STOP_LOSS, OrderKind.TAKE_PROFIT)
LIVE = (OrderStatus.NEW, OrderStatus.SUBMITTING, OrderStatus.OPEN)
FINAL = tuple(status for status in OrderStatus if status.is_final)


def order_record(
    *,
    broker: Broker,
    client_order_id: str,
    kind: OrderKind,
    side: OrderSide,
    type: OrderType,
    symbol: str,
    amount: Decimal,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    webhook: Webhook | None = None,
    position: WebhookState | None = None,
    paper: bool,
) -> Order:
    """Commit the order row (status submitting: it is about to be sent) before anything is sent;
    a retry finds it again by its client order id. `paper`: it goes to the paper exchange, for
    good (order_submit routes it by this mark, whatever mode the engine runs in)."""
    order = Order(
        client_order_id=client_order_id,
        user_id=broker.user_id,
        broker=broker,
        webhook=webhook,
        position=position,
        kind=kind,
        side=side,
        type=type,
        symbol=symbol,
        amount=amount,
        price=price,
        stop_price=stop_price,
        status=OrderStatus.SUBMITTING,
        paper=paper,
    )
    try:
        row_insert(order)
    except IntegrityError:  # recorded by an earlier try: order_submit looks it up first
        return Order.objects.get(client_order_id=client_order_id)
    order.just_recorded = True  # type: ignore[attr-defined]
    return order


def order_request(order: Order, *, reference_price: Decimal | None = None) -> OrderRequest:
    return OrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=OrderSide(order.side),
        type=OrderType(order.type),
        amount=order.amount,
        price=order.price,
        stop_price=order.stop_price,
        reference_price=reference_price,
    )


def order_mark_submitting(order: Order) -> None:
    if order.status == OrderStatus.NEW:
        order.status = OrderStatus.SUBMITTING
        order.save(update_fields=["status", "updated_at"])


def order_reject(order: Order, error: Exception) -> None:
    order.status = OrderStatus.REJECTED
    order.error_message = str(error)
    order.save(update_fields=["status", "error_message", "updated_at"])


STATE_FIELDS = [
    "exchange_order_id",
    "status",
    "filled",
    "average_price",
    "fee",
    "fee_base",
    "fill_applied",
    "raw",
    "position",
    "updated_at",
]


def order_update_from_state(order: Order, state: OrderState, *, applied_before: Decimal | None = None) -> bool:
    """Copy the exchange's view onto the row and mark its fill as carried to the position.

    With `applied_before`, the row is written only if its fill carried is still that (no lock
    was taken: another engine may have applied the fill meanwhile); whether it was written.
    """
    order.exchange_order_id = state.id or order.exchange_order_id
    order.status = state.status
    order.filled = state.filled
    order.average_price = state.average
    order.fee = state.fee
    order.fee_base = state.fee_base
    order.fill_applied = max(order.fill_applied, state.filled)
    order.raw = _jsonable(order_state_to_dict(state))
    if applied_before is None:
        row_save(order, STATE_FIELDS)
        return True
    order.updated_at = timezone.now()
    fields = {field: getattr(order, field) for field in STATE_FIELDS}
    if not rows_update(Order, fields, pk=order.pk, fill_applied=applied_before):
        return False
    announce_rows(PushKind.ORDER, [order])  # an update() fires no signal
    return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def order_submit(order: Order, gateway: GatewayClient, *, reference_price: Decimal | None = None) -> OrderState:
    """Send a recorded order once: after an interrupted try, look it up before placing it.

    Raises ExchangeRejected / OrderInvalid (the row is marked rejected) or TemporaryError
    (the row stays `submitting`; a later try looks it up by client order id). The exchange's
    "duplicate" means it has the order already: it is looked up, not refused. A paper order
    goes to the paper exchange whatever mode the engine runs in.
    """
    gateway = gateway.routed(paper=order.paper)
    if order.status == OrderStatus.REJECTED:
        raise ExchangeRejected(order.error_message or "the exchange rejected this order")
    if order.status not in (OrderStatus.NEW, OrderStatus.SUBMITTING):  # answered before: ask again
        return gateway.fetch_order(order.broker_id, symbol=order.symbol, client_order_id=order.client_order_id)
    if order.status == OrderStatus.SUBMITTING and not getattr(order, "just_recorded", False):
        try:
            return gateway.fetch_order(order.broker_id, symbol=order.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            pass  # never reached the exchange: place it now
    order_mark_submitting(order)
    try:
        return gateway.create_order(order.broker_id, order_request(order, reference_price=reference_price))
    except DuplicateOrder:  # placed by an earlier try whose answer was lost
        return gateway.fetch_order(order.broker_id, symbol=order.symbol, client_order_id=order.client_order_id)
    except (ExchangeRejected, OrderInvalid) as exc:
        with transaction.atomic():
            order_reject(order, exc)
        raise


STATUS_FIELDS = ["exchange_order_id", "status", "average_price", "raw", "updated_at"]


def order_copy_status(order: Order, state: OrderState) -> None:
    order.exchange_order_id = state.id or order.exchange_order_id
    order.status = state.status
    order.average_price = state.average
    order.raw = _jsonable(order_state_to_dict(state))
    order.updated_at = timezone.now()


def order_update_status(order: Order, state: OrderState) -> None:
    """One UPDATE; an answer that is not final never moves a final status back."""
    order_copy_status(order, state)
    values = {field: getattr(order, field) for field in STATUS_FIELDS}
    if rows_update(Order, values, pk=order.pk, **({} if state.status.is_final else {"status__not_in": FINAL})):
        announce_rows(PushKind.ORDER, [order])  # an update() fires no signal
    else:  # final already (a late event): the row stays as it is, nothing to follow up
        order.refresh_from_db()
        order.state_outdated = True  # type: ignore[attr-defined]


def orders_save(orders: list[Order], fields: list[str]) -> None:
    """Plain UPDATEs (for two or three rows much cheaper than bulk_update's CASE expressions), in
    one transaction: one commit, and on SQLite one wait for the write lock (inside another
    transaction, no savepoint of its own: a failure undoes the caller's whole transaction)."""
    if not orders:
        return
    with transaction.atomic(savepoint=False):
        for order in orders:
            rows_update(Order, {field: getattr(order, field) for field in fields}, pk=order.pk)
    announce_rows(PushKind.ORDER, orders)  # an update() fires no signal
