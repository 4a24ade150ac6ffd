"""The fill ledger: an exchange's answer for an order is recorded and its new fill carried to
the position (one place for a reply and for a later event of the same order).

A position is computed from its orders' fills (trading.positions); a status never moves back from
final, and a fill is applied once however many answers report it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.streams import RECONCILED_SEEN
from apps.webhooks.engine.ids import order_key_new
from apps.webhooks.engine.orders import order_update_from_state, order_update_status
from apps.webhooks.engine.rows import row_insert, row_save, rows_select
from apps.webhooks.models import Order, PositionStatus, WebhookState
from trading.orders import OrderSide, OrderState, OrderStatus
from trading.positions import Position, position_apply_buy, position_apply_sell, position_unrealized_pnl

logger = logging.getLogger(__name__)

STORED_PLACES = Decimal("1e-12")


def position_open(*, broker_id: int, symbol: str, paper: bool) -> WebhookState | None:
    """The open position of this broker and symbol with this mark (a paper and a live one may
    both be open: their coins are on different exchanges and never mix)."""
    # At most one row (a unique constraint): no ORDER BY.
    rows = rows_select(
        WebhookState,
        broker_id=broker_id,
        symbol=symbol,
        paper=paper,
        status=PositionStatus.OPEN,
        limit=1,
        for_update=True,
    )
    return rows[0] if rows else None


def position_for_alert(*, broker_id: int, symbol: str, paper: bool) -> WebhookState | None:
    """The open position an alert acts on: the one of the engine's mode, else the other one
    (the caller's mode check decides whether the alert may touch it)."""
    rows = rows_select(WebhookState, broker_id=broker_id, symbol=symbol, status=PositionStatus.OPEN, limit=2)
    return min(rows, key=lambda row: row.paper != paper, default=None)


def _domain(position: WebhookState) -> Position:
    return Position(
        Decimal(position.quantity),
        Decimal(position.entry_price),
        Decimal(position.entry_fees),
        Decimal(position.realized_pnl),
    )


def _stored(value: Decimal) -> Decimal:
    """Quantize to the database's 12 decimal places explicitly rather than on save."""
    return value.quantize(STORED_PLACES)


FILL_FIELDS = [
    "quantity",
    "entry_price",
    "entry_fees",
    "realized_pnl",
    "current_price",
    "unrealized_pnl",
    "status",
    "closed_at",
    "stop_loss_price",
    "take_profit_price",
    "updated_at",
]


def _store(position: WebhookState, figures: Position, *, price: Decimal) -> None:
    position.quantity = _stored(figures.quantity)
    position.entry_price = _stored(figures.entry_price)
    position.entry_fees = _stored(figures.entry_fees)
    position.realized_pnl = _stored(figures.realized_pnl)
    position.current_price = price
    unrealized = position_unrealized_pnl(figures, price=price) if not figures.is_flat else Decimal(0)
    position.unrealized_pnl = _stored(unrealized)
    if figures.is_flat:
        position.status = PositionStatus.CLOSED
        position.closed_at = timezone.now()
        position.quantity = Decimal(0)
        position.unrealized_pnl = Decimal(0)
    if position.pk is None:
        row_insert(position)
    else:  # only what a fill changes (an UPDATE of every column costs twice as much)
        row_save(position, FILL_FIELDS)


def order_state_apply(order: Order, state: OrderState) -> WebhookState | None:
    """Record the exchange's answer for an order and carry any new fill to its position.

    Updates `order` in place, so the caller holds the order as recorded. A status never moves
    back from final to not final, and a reconciliation's report about a row that changed since
    it was made is ignored (the row is reloaded instead).
    """
    order.state_outdated = False  # type: ignore[attr-defined]
    if _report_outdated(order, state):
        logger.info("outdated report for %s ignored: the order changed since", order.client_order_id)
        order.refresh_from_db()
        order.state_outdated = True  # type: ignore[attr-defined]  # nothing to follow up
        return order.position if order.position_id else None
    if state.filled <= order.fill_applied:  # nothing new to carry: one UPDATE, no lock
        order_update_status(order, state)
        return order.position if order.position_id else None
    if getattr(order, "just_recorded", False) and state.status == OrderStatus.FILLED:
        # Placed by this very try and filled at once in the answer (it can have no event): no
        # lock, but the UPDATE only lands if no one applied a fill meanwhile (else all is undone).
        try:
            with transaction.atomic():
                return _fill_apply(order, state, applied_before=order.fill_applied)
        except (_FillRaced, IntegrityError):
            order.refresh_from_db()  # drops what the undone try left on the object
    with transaction.atomic():
        # The row lock makes a reply and an event for the same fill apply it once.
        order.fill_applied, order.fee, order.fee_base, order.status = (
            Order.objects.select_for_update().values_list("fill_applied", "fee", "fee_base", "status").get(pk=order.pk)
        )
        return _fill_apply(order, state, applied_before=None)


class _FillRaced(Exception):
    """Another engine applied a fill of this order between our read and our write."""


def _fill_apply(order: Order, state: OrderState, *, applied_before: Decimal | None) -> WebhookState | None:
    new_fill = max(Decimal(0), state.filled - order.fill_applied)
    new_fee = max(Decimal(0), state.fee - order.fee) if new_fill > 0 else Decimal(0)
    # A fee the exchange took in coins (a buy's base) leaves fewer coins in the position.
    new_fill -= max(Decimal(0), state.fee_base - order.fee_base) if order.side == OrderSide.BUY else Decimal(0)
    position = order.position if order.position_id else None
    if new_fill > 0:
        position = _position_apply_fill(order, position, state, new_fill=new_fill, new_fee=new_fee)
    order.position = position
    order.position_fresh = new_fill > 0  # type: ignore[attr-defined]
    if OrderStatus(order.status).is_final and not state.status.is_final:
        state = replace(state, status=OrderStatus(order.status))  # a final status stays final
    if not order_update_from_state(order, state, applied_before=applied_before):
        raise _FillRaced(order.client_order_id)
    return position


def _report_outdated(order: Order, state: OrderState) -> bool:
    """Whether `state` is a reconciliation's report made before the order's row last changed
    (the gateway saw the row at `updated_at`; the engine has placed or reused it since)."""
    seen = state.raw.get(RECONCILED_SEEN) if isinstance(state.raw, dict) else None
    if not seen:
        return False
    current = Order.objects.filter(pk=order.pk).values_list("updated_at", flat=True).first()
    return current is None or current > datetime.fromisoformat(str(seen))


def _position_apply_fill(
    order: Order, position: WebhookState | None, state: OrderState, *, new_fill: Decimal, new_fee: Decimal
) -> WebhookState | None:
    price = state.average or order.price or order.stop_price or Decimal(0)
    if position is not None and position.pk:
        # The figures are carried forward from the row as it is now, locked: an object loaded
        # earlier (by the alert, before another fill was applied) would overwrite that fill.
        locked = rows_select(WebhookState, pk=position.pk, for_update=True)
        if not locked:
            raise WebhookState.DoesNotExist(f"position #{position.pk} is gone")
        position = locked[0]
    if position is None or position.status != PositionStatus.OPEN or position.paper != order.paper:
        # A fill goes to the open position of its own mark, never the other's: a paper fill
        # in a live position would cancel and re-size real protection for coins that are not there.
        position = position_open(broker_id=order.broker_id, symbol=order.symbol, paper=order.paper)
    if order.side == OrderSide.BUY:
        if position is None:
            position = WebhookState(
                user_id=order.user_id,
                broker_id=order.broker_id,
                symbol=order.symbol,
                side="long",
                paper=order.paper,  # a position is paper for good when its first order was
                order_key=order_key_new(),
            )
            position.just_created = True  # type: ignore[attr-defined]
        webhook = order.webhook if order.webhook_id else None
        if webhook is not None:  # the alert that bought sets the protection prices
            position.stop_loss_price = webhook.prix_sl or position.stop_loss_price
            position.take_profit_price = webhook.prix_tp or position.take_profit_price
        _store(position, position_apply_buy(_domain(position), amount=new_fill, price=price, fee=new_fee), price=price)
        return position
    if position is None:
        logger.warning("sell fill of %s has no open position to reduce", order.client_order_id)
        return None
    sold = min(new_fill, position.quantity)
    _store(position, position_apply_sell(_domain(position), amount=sold, price=price, fee=new_fee), price=price)
    return position
