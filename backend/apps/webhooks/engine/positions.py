"""Positions follow their orders' fills; protection follows the position.

`order_state_apply` is the one place where an exchange answer changes a position, whether
it came as the reply to an order or later as an event (a resting order that filled).
`protection_sync` makes the exchange's stop-loss / take-profit match the position.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.gateway_client import GatewayClient
from apps.core.streams import RECONCILED_SEEN, order_state_to_dict
from apps.webhooks.engine.failures import failure_text
from apps.webhooks.engine.ids import client_order_id, order_key_new, order_origin, position_origin
from apps.webhooks.engine.orders import _jsonable, order_update_from_state
from apps.webhooks.models import Order, PositionStatus, ProtectionMode, WebhookState
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.errors import (
    DuplicateOrder,
    ExchangeRejected,
    OrderNotFound,
    ProtectionUnsupported,
    TemporaryError,
    TradingError,
)
from trading.orders import OrderKind, OrderSide, OrderState, OrderStatus, OrderType, ProtectionRequest
from trading.positions import Position, position_apply_buy, position_apply_sell, position_unrealized_pnl

logger = logging.getLogger(__name__)

STORED_PLACES = Decimal("1e-12")
PROTECTIVE = (OrderKind.STOP_LOSS, OrderKind.TAKE_PROFIT)
LIVE = (OrderStatus.NEW, OrderStatus.SUBMITTING, OrderStatus.OPEN)
FINAL = tuple(status for status in OrderStatus if status.is_final)
# On the protective orders the exchange refused as unsupported: the guard is for good then.
GUARDED_INSTEAD = "guarded by the engine instead"


def position_open(*, broker_id: int, symbol: str, paper: bool) -> WebhookState | None:
    """The open position of this broker and symbol with this mark (a paper and a live one may
    both be open: their coins are on different exchanges and never mix)."""
    rows = WebhookState.objects.filter(broker_id=broker_id, symbol=symbol, paper=paper, status=PositionStatus.OPEN)
    # At most one row (a unique constraint): no ORDER BY to compile and sort.
    return next(iter(rows.order_by().select_for_update()[:1]), None)


def position_for_alert(*, broker_id: int, symbol: str, paper: bool) -> WebhookState | None:
    """The open position an alert acts on: the one of the engine's mode, else the other one
    (the caller's mode check decides whether the alert may touch it)."""
    rows = WebhookState.objects.filter(broker_id=broker_id, symbol=symbol, status=PositionStatus.OPEN).order_by()[:2]
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
        position.save()
    else:  # only what a fill changes (an UPDATE of every column costs twice as much)
        position.save(update_fields=FILL_FIELDS)


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
        _order_update_status(order, state)
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
        position = WebhookState.objects.select_for_update().get(pk=position.pk)
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


def _orders_save(orders: list[Order], fields: list[str]) -> None:
    """Plain UPDATEs (for two or three rows much cheaper than bulk_update's CASE expressions), in
    one transaction: one commit, and on SQLite one wait for the write lock."""
    with transaction.atomic():
        for order in orders:
            Order.objects.filter(pk=order.pk).update(**{field: getattr(order, field) for field in fields})
    announce_rows(PushKind.ORDER, orders)  # an update() fires no signal


STATUS_FIELDS = ["exchange_order_id", "status", "average_price", "raw", "updated_at"]


def _order_copy_status(order: Order, state: OrderState) -> None:
    order.exchange_order_id = state.id or order.exchange_order_id
    order.status = state.status
    order.average_price = state.average
    order.raw = _jsonable(order_state_to_dict(state))
    order.updated_at = timezone.now()


def _order_update_status(order: Order, state: OrderState) -> None:
    """One UPDATE; an answer that is not final never moves a final status back."""
    _order_copy_status(order, state)
    rows = Order.objects.filter(pk=order.pk)
    if not state.status.is_final:
        rows = rows.exclude(status__in=FINAL)
    if rows.update(**{field: getattr(order, field) for field in STATUS_FIELDS}):
        announce_rows(PushKind.ORDER, [order])  # an update() fires no signal
    else:  # final already (a late event): the row stays as it is, nothing to follow up
        order.refresh_from_db()
        order.state_outdated = True  # type: ignore[attr-defined]


def _protective_orders(position: WebhookState) -> list[Order]:
    return list(position.orders.filter(kind__in=PROTECTIVE, status__in=LIVE).order_by("id"))


def _open_exit_remaining(position: WebhookState) -> Decimal:
    remaining = Decimal(0)
    for order in position.orders.filter(kind=OrderKind.EXIT, status__in=LIVE):
        remaining += order.amount - order.filled
    return remaining


def protection_cancel(position: WebhookState, gateway: GatewayClient) -> None:
    """Cancel the position's live stop-loss / take-profit; a fill found meanwhile is applied."""
    _orders_cancel(position, gateway, _protective_orders(position))


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
            _order_copy_status(order, answer)
            quiet.append(order)
        else:
            order_state_apply(order, answer)
            filled = True
    _orders_save(quiet, [*STATUS_FIELDS, "error_message"])
    if filled:
        position.refresh_from_db()
    if failure is not None:
        raise failure


def protection_sync(
    position: WebhookState, gateway: GatewayClient, *, origin: str, fresh: bool = False, new_origin: bool = False
) -> None:
    """Make the exchange's protective orders match the position: prices and quantity.

    `origin` names what caused this (an alert or an order) so that a retry after a crash
    reuses the same client order ids instead of placing the protection twice. `fresh`: the
    position object is as just saved; `new_origin`: nothing can have been placed for `origin`.
    When the exchange cannot take them now, the position is handed to the engine guard and the
    error raised; `protection_retry` tries the exchange again later.
    """
    gateway = gateway.routed(paper=position.paper)
    if not fresh:
        position.refresh_from_db()
    brand_new = getattr(position, "just_created", False)  # no order can be attached to it yet
    position.just_created = False  # type: ignore[attr-defined]
    live = (
        []
        if brand_new
        else list(position.orders.filter(kind__in=(*PROTECTIVE, OrderKind.EXIT), status__in=LIVE).order_by("id"))
    )
    current = [order for order in live if order.kind in PROTECTIVE]
    exiting = sum((order.amount - order.filled for order in live if order.kind == OrderKind.EXIT), Decimal(0))
    target = position.quantity - exiting if position.status == PositionStatus.OPEN else Decimal(0)
    stop, take = position.stop_loss_price, position.take_profit_price
    wanted = target > 0 and (stop is not None or take is not None)
    placed_here = [order for order in current if f"-{origin}-" in order.client_order_id]
    if any(order.status == OrderStatus.SUBMITTING for order in placed_here):
        _protection_resume(position, placed_here, gateway)
        return
    if wanted and _protection_matches(current, target=target, stop=stop, take=take):
        if position.protection_mode != ProtectionMode.EXCHANGE and all(o.status == OrderStatus.OPEN for o in current):
            _set_protection_fields(position, current)  # the exchange holds them: the guard stands down
        return
    if current:
        protection_cancel(position, gateway)
        if position.status != PositionStatus.OPEN:
            return
        target = position.quantity - exiting
        wanted = target > 0 and (stop is not None or take is not None)
    if not wanted:
        # An exit resting for the whole position holds its coins: the exchange cannot hold a stop
        # beside it, so the guard does (it cancels the exit before selling at market).
        held_by_exit = position.status == PositionStatus.OPEN and exiting > 0 and (stop is not None or take is not None)
        _set_protection_fields(position, [], mode=ProtectionMode.ENGINE if held_by_exit else None)
        return
    kinds = [kind for kind, price in ((OrderKind.STOP_LOSS, stop), (OrderKind.TAKE_PROFIT, take)) if price is not None]
    if new_origin:
        ids, existing = {kind: client_order_id(origin=origin, kind=kind) for kind in kinds}, set[str]()
    else:
        ids, existing = _reusable_client_order_ids(origin=origin, kinds=kinds)
    rows = Order.objects.bulk_create(
        [
            Order(
                client_order_id=ids[kind],
                user_id=position.user_id,
                broker_id=position.broker_id,
                position=position,
                kind=kind,
                side=OrderSide.SELL,
                symbol=position.symbol,
                amount=target,
                status=OrderStatus.SUBMITTING,
                type=OrderType.STOP_MARKET if kind == OrderKind.STOP_LOSS else OrderType.TAKE_PROFIT_LIMIT,
                stop_price=stop if kind == OrderKind.STOP_LOSS else None,
                price=take if kind == OrderKind.TAKE_PROFIT else None,
                paper=position.paper,
            )
            for kind in kinds
            if ids[kind] not in existing
        ]
    )
    announce_rows(PushKind.ORDER, rows, created=True)  # bulk_create fires no signal
    rows = (
        list(Order.objects.filter(client_order_id__in=ids.values()).order_by("id")) if len(rows) < len(kinds) else rows
    )
    _protection_place(position, rows, gateway)


def _reusable_client_order_ids(*, origin: str, kinds: list[OrderKind]) -> tuple[dict[OrderKind, str], set[str]]:
    """Client order ids for this origin: the first attempt whose order never reached the
    exchange or is in flight (a retry finds it again), else a new attempt after all that ended;
    an id whose order ended is never sent again (the exchange would answer with the old order).
    Also which of the chosen ids already have a row (an earlier try recorded them)."""
    chosen: dict[OrderKind, str] = {}
    statuses: dict[str, str] = {}
    reusable = (OrderStatus.NEW, OrderStatus.SUBMITTING, OrderStatus.REJECTED)
    for kind in kinds:
        stem = client_order_id(origin=origin, kind=kind)
        ours = dict(Order.objects.filter(client_order_id__startswith=stem).values_list("client_order_id", "status"))
        statuses.update(ours)
        attempt, candidate = 0, stem
        while candidate in ours and ours[candidate] not in reusable:
            attempt += 1
            following = client_order_id(origin=origin, kind=kind, attempt=attempt)
            if following == candidate:  # cut at the exchange's length: no new id can be made
                raise ExchangeRejected(f"no new client order id can follow {candidate}")
            candidate = following
        chosen[kind] = candidate
    return chosen, {c for c in chosen.values() if c in statuses}


def _protection_matches(current: list[Order], *, target: Decimal, stop: Decimal | None, take: Decimal | None) -> bool:
    stops = [order for order in current if order.kind == OrderKind.STOP_LOSS]
    takes = [order for order in current if order.kind == OrderKind.TAKE_PROFIT]
    if len(stops) != (stop is not None) or len(takes) != (take is not None):
        return False
    if any(order.amount != target for order in current):
        return False
    if stops and stops[0].stop_price != stop:
        return False
    return not (takes and takes[0].price != take)


def _protection_place(position: WebhookState, rows: list[Order], gateway: GatewayClient) -> None:
    stop_row = next((row for row in rows if row.kind == OrderKind.STOP_LOSS), None)
    take_row = next((row for row in rows if row.kind == OrderKind.TAKE_PROFIT), None)
    if any(row.status != OrderStatus.SUBMITTING for row in rows):  # rows of an earlier try
        # updated_at too (update() skips auto_now): it tells the gateway's reconciliation the
        # row is in flight again, not settled.
        now = timezone.now()
        Order.objects.filter(pk__in=[row.pk for row in rows]).exclude(status=OrderStatus.SUBMITTING).update(
            status=OrderStatus.SUBMITTING, updated_at=now
        )
        for row in rows:
            row.status, row.updated_at = OrderStatus.SUBMITTING, now
        announce_rows(PushKind.ORDER, rows)
    request = ProtectionRequest(
        symbol=position.symbol,
        amount=rows[0].amount,
        stop_loss_client_order_id=stop_row.client_order_id if stop_row else None,
        stop_loss_price=stop_row.stop_price if stop_row else None,
        take_profit_client_order_id=take_row.client_order_id if take_row else None,
        take_profit_price=take_row.price if take_row else None,
    )
    try:
        states = gateway.create_protection(position.broker_id, request)
    except ProtectionUnsupported as exc:
        Order.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=OrderStatus.REJECTED, error_message=f"{exc}: {GUARDED_INSTEAD}", updated_at=timezone.now()
        )
        announce_rows(PushKind.ORDER, rows)
        _set_protection_fields(position, [], mode=ProtectionMode.ENGINE)
        return
    except DuplicateOrder:  # placed by an earlier try whose answer was lost: track what is there
        states = _protection_lookup(rows, gateway)
    except Exception as exc:
        if not isinstance(exc, TemporaryError):  # refused: never placed (a timeout may have been)
            Order.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=OrderStatus.REJECTED, error_message=str(exc), updated_at=timezone.now()
            )
            announce_rows(PushKind.ORDER, rows)
        # Unprotected on the exchange for now: the guard closes it on prices until a later pass
        # (protection_retry) gets the exchange to hold it.
        _set_protection_fields(position, [], mode=ProtectionMode.ENGINE)
        logger.error(
            "position #%s %s: placing its protection failed (%s); guarded by the engine until the exchange takes it",
            position.pk,
            position.symbol,
            failure_text(exc),
        )
        raise
    _apply_protection_states(position, rows, states)


def _protection_lookup(rows: list[Order], gateway: GatewayClient) -> list[OrderState]:
    """The exchange's state of protective orders it says it has; one it cannot find is marked
    rejected (placed again by a later pass)."""
    states = []
    for row in rows:
        try:
            states.append(gateway.fetch_order(row.broker_id, symbol=row.symbol, client_order_id=row.client_order_id))
        except OrderNotFound:
            Order.objects.filter(pk=row.pk).update(
                status=OrderStatus.REJECTED,
                error_message="the exchange said duplicate but has no such order",
                updated_at=timezone.now(),
            )
            row.status = OrderStatus.REJECTED
    return states


def _protection_resume(position: WebhookState, rows: list[Order], gateway: GatewayClient) -> None:
    """A previous try sent this protection and died before the answer: look it up."""
    gateway = gateway.routed(paper=position.paper)
    states = []
    for row in rows:
        try:
            states.append(gateway.fetch_order(row.broker_id, symbol=row.symbol, client_order_id=row.client_order_id))
        except OrderNotFound:
            Order.objects.filter(pk=row.pk).update(status=OrderStatus.NEW, updated_at=timezone.now())
            announce_rows(PushKind.ORDER, [row])
    if len(states) == len(rows):
        _apply_protection_states(position, rows, states)
        return
    fresh = [Order.objects.get(pk=row.pk) for row in rows]
    _protection_place(position, fresh, gateway)


def _apply_protection_states(position: WebhookState, rows: list[Order], states: list[OrderState]) -> None:
    """Record the exchange's answer to a placement. One that is already over (cancelled,
    expired, rejected, or an old order under the same id) holds nothing: the engine guards the
    position until a later pass places it again, and the failure is raised."""
    by_client = {state.client_order_id: state for state in states}
    resting = []
    for row in rows:
        state = by_client.get(row.client_order_id)
        if state is None:
            continue
        if state.filled <= row.fill_applied:  # the usual case: both rest, one UPDATE for the pair
            _order_copy_status(row, state)
            resting.append(row)
        else:
            order_state_apply(row, state)
    unheld = [row for row in rows if row.status not in LIVE and row.status != OrderStatus.FILLED]
    if not unheld:
        with transaction.atomic():  # the orders and the position's fields in one commit
            _orders_save(resting, STATUS_FIELDS)
            _set_protection_fields(position, rows)
        return
    _orders_save(resting, STATUS_FIELDS)
    position.refresh_from_db()
    if position.status == PositionStatus.OPEN:
        _set_protection_fields(position, [], mode=ProtectionMode.ENGINE)
    ended = ", ".join(f"{row.client_order_id} {row.status}" for row in unheld)
    raise ExchangeRejected(f"the exchange holds no protection after placing it ({ended}): guarded by the engine")


def _set_protection_fields(position: WebhookState, rows: list[Order], *, mode: str | None = None) -> None:
    live = [row for row in rows if row.status in LIVE]
    stop = next((row for row in live if row.kind == OrderKind.STOP_LOSS), None)
    take = next((row for row in live if row.kind == OrderKind.TAKE_PROFIT), None)
    position.stop_loss_order_id = stop.exchange_order_id if stop else ""
    position.take_profit_order_id = take.exchange_order_id if take else ""
    position.protection_mode = mode or (ProtectionMode.EXCHANGE if live else ProtectionMode.NONE)
    position.save(update_fields=["stop_loss_order_id", "take_profit_order_id", "protection_mode", "updated_at"])


def order_follow_up(order: Order, gateway: GatewayClient) -> None:
    """What an order's new state asks for next: protect after an entry, cancel a twin,
    re-protect what an exit left. `order` is as order_state_apply left it."""
    position = order.position if order.position_id else None
    if position is None or getattr(order, "state_outdated", False):
        return
    if order.kind in PROTECTIVE and order.status == OrderStatus.FILLED:
        if position.status == PositionStatus.OPEN:
            protection_sync(position, gateway, origin=order_origin(order))
        else:
            protection_cancel(position, gateway)
            _set_protection_fields(position, [])
        return
    if order.kind in PROTECTIVE and order.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
        # Cancelled by the exchange, not by us (ours are never followed up): protect again,
        # unless its twin filled and closed the position.
        position.refresh_from_db()
        if position.status == PositionStatus.OPEN:
            protection_sync(position, gateway, origin=order_origin(order))
        return
    if order.kind == OrderKind.ENTRY and not OrderStatus(order.status).is_final:
        return  # protect once the entry has finished filling
    if order.kind in (OrderKind.ENTRY, OrderKind.EXIT):
        protection_sync(
            position,
            gateway,
            origin=order_origin(order),
            fresh=getattr(order, "position_fresh", False),
            new_origin=getattr(order, "just_recorded", False),
        )


def order_follow_up_guarded(order: Order, gateway: GatewayClient) -> str:
    """order_follow_up for an order that has traded: a failure of what follows never undoes the
    trade. The position is left to the engine guard (a later pass tries the exchange again)
    and the failure comes back as a warning; "" when all went well."""
    try:
        order_follow_up(order, gateway)
    except Exception as exc:
        position = order.position if order.position_id else None
        if position is None:
            raise
        guarded = protection_to_guard(position)
        logger.warning("after %s: %s", order.client_order_id, failure_text(exc))
        then = "guarded by the engine until the exchange takes them" if guarded else "nothing to protect"
        return f"traded, but protecting the position failed ({failure_text(exc)}): {then}"
    return ""


def protection_to_guard(position: WebhookState) -> bool:
    """Hand an open position whose stop-loss / take-profit the exchange may not hold now to the
    engine guard; whether it has any to guard."""
    position.refresh_from_db()
    guarded = position.status == PositionStatus.OPEN and (
        position.stop_loss_price is not None or position.take_profit_price is not None
    )
    if guarded and position.protection_mode != ProtectionMode.ENGINE:
        _set_protection_fields(position, [], mode=ProtectionMode.ENGINE)
    return guarded


def protection_retry(position: WebhookState, gateway: GatewayClient) -> None:
    """Ask the exchange again to hold the protection of a position the guard holds because
    placing it failed: look up what an interrupted try sent, else place it."""
    gateway = gateway.routed(paper=position.paper)
    submitting = [order for order in _protective_orders(position) if order.status == OrderStatus.SUBMITTING]
    if submitting:
        _protection_resume(position, submitting, gateway)
        return
    protection_sync(position, gateway, origin=f"{position_origin(position)}r")


def protection_unsupported(position: WebhookState) -> bool:
    """Whether the exchange refused this position's protection as one it cannot hold."""
    last = position.orders.filter(kind__in=PROTECTIVE).order_by("-id").values_list("error_message", flat=True).first()
    return bool(last) and GUARDED_INSTEAD in str(last)
