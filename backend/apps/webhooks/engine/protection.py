"""Protection follows the position: `protection_sync` makes the exchange's stop-loss and
take-profit match the position's prices and quantity; where the exchange cannot hold them now,
the engine guard does, and `protection_retry` asks the exchange again later."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.cancels import protection_cancel, protective_orders
from apps.webhooks.engine.failures import failure_text
from apps.webhooks.engine.ids import client_order_id, position_origin
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.orders import LIVE, PROTECTIVE, STATUS_FIELDS, order_copy_status, orders_save
from apps.webhooks.engine.rows import row_save, rows_insert, rows_select
from apps.webhooks.models import Order, PositionStatus, ProtectionMode, WebhookState
from apps.webhooks.push.announce import announce_rows
from apps.webhooks.push.events import PushKind
from trading.errors import DuplicateOrder, ExchangeRejected, OrderNotFound, ProtectionUnsupported, TemporaryError
from trading.orders import OrderKind, OrderSide, OrderState, OrderStatus, OrderType, ProtectionRequest

logger = logging.getLogger(__name__)

# On the protective orders the exchange refused as unsupported: the guard is for good then.
GUARDED_INSTEAD = "guarded by the engine instead"
PROTECTION_FIELDS = ["stop_loss_order_id", "take_profit_order_id", "protection_mode", "updated_at"]


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
        else rows_select(
            Order, position=position.pk, kind__in=(*PROTECTIVE, OrderKind.EXIT), status__in=LIVE, order_by="id"
        )
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
            protection_fields_set(position, current)  # the exchange holds them: the guard stands down
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
        protection_fields_set(position, [], mode=ProtectionMode.ENGINE if held_by_exit else None)
        return
    kinds = [kind for kind, price in ((OrderKind.STOP_LOSS, stop), (OrderKind.TAKE_PROFIT, take)) if price is not None]
    if new_origin:
        ids, existing = {kind: client_order_id(origin=origin, kind=kind) for kind in kinds}, set[str]()
    else:
        ids, existing = _reusable_client_order_ids(origin=origin, kinds=kinds)
    rows = [
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
    rows_insert(rows)  # one statement: all or none (each row announces itself)
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
        protection_fields_set(position, [], mode=ProtectionMode.ENGINE)
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
        protection_fields_set(position, [], mode=ProtectionMode.ENGINE)
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
            order_copy_status(row, state)
            resting.append(row)
        else:
            order_state_apply(row, state)
    unheld = [row for row in rows if row.status not in LIVE and row.status != OrderStatus.FILLED]
    if not unheld:
        with transaction.atomic():  # the orders and the position's fields in one commit
            orders_save(resting, STATUS_FIELDS)
            protection_fields_set(position, rows)
        return
    orders_save(resting, STATUS_FIELDS)
    position.refresh_from_db()
    if position.status == PositionStatus.OPEN:
        protection_fields_set(position, [], mode=ProtectionMode.ENGINE)
    ended = ", ".join(f"{row.client_order_id} {row.status}" for row in unheld)
    raise ExchangeRejected(f"the exchange holds no protection after placing it ({ended}): guarded by the engine")


def protection_fields_set(position: WebhookState, rows: list[Order], *, mode: str | None = None) -> None:
    live = [row for row in rows if row.status in LIVE]
    stop = next((row for row in live if row.kind == OrderKind.STOP_LOSS), None)
    take = next((row for row in live if row.kind == OrderKind.TAKE_PROFIT), None)
    position.stop_loss_order_id = stop.exchange_order_id if stop else ""
    position.take_profit_order_id = take.exchange_order_id if take else ""
    position.protection_mode = mode or (ProtectionMode.EXCHANGE if live else ProtectionMode.NONE)
    row_save(position, PROTECTION_FIELDS)


def protection_to_guard(position: WebhookState) -> bool:
    """Hand an open position whose stop-loss / take-profit the exchange may not hold now to the
    engine guard; whether it has any to guard."""
    position.refresh_from_db()
    guarded = position.status == PositionStatus.OPEN and (
        position.stop_loss_price is not None or position.take_profit_price is not None
    )
    if guarded and position.protection_mode != ProtectionMode.ENGINE:
        protection_fields_set(position, [], mode=ProtectionMode.ENGINE)
    return guarded


def protection_retry(position: WebhookState, gateway: GatewayClient) -> None:
    """Ask the exchange again to hold the protection of a position the guard holds because
    placing it failed: look up what an interrupted try sent, else place it."""
    gateway = gateway.routed(paper=position.paper)
    submitting = [order for order in protective_orders(position) if order.status == OrderStatus.SUBMITTING]
    if submitting:
        _protection_resume(position, submitting, gateway)
        return
    protection_sync(position, gateway, origin=f"{position_origin(position)}r")


def protection_unsupported(position: WebhookState) -> bool:
    """Whether the exchange refused this position's protection as one it cannot hold."""
    last = position.orders.filter(kind__in=PROTECTIVE).order_by("-id").values_list("error_message", flat=True).first()
    return bool(last) and GUARDED_INSTEAD in str(last)
