"""Settling orders whose outcome the engine has not recorded: at start (it died while waiting)
and periodically for live exchanges, whose resting orders fill without telling anyone; and
asking the exchange again to hold the protection of positions the guard holds after a failure.

Every item is settled on its own: one that fails is logged and tried again on the next pass,
and the others, the follow-ups (protect after a fill) included, still run. A broker whose
exchange or gateway answers with a temporary error (a timeout) is skipped for the rest of the
pass (`down`): one outage costs one wait per pass, not one per order or position.

The engine runs the periodic passes on a thread of their own, one partition at a time
(`partition_work` lists them), so no alert waits behind them (see `passes`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.failures import failure_text
from apps.webhooks.engine.follow_ups import order_follow_up_guarded
from apps.webhooks.engine.ids import order_origin
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.market_lock import market_hold
from apps.webhooks.engine.orders import PROTECTIVE
from apps.webhooks.engine.protection import protection_retry, protection_sync, protection_unsupported
from apps.webhooks.models import Order, PositionStatus, ProtectionMode, WebhookState, WebhookStatus
from trading.errors import OrderNotFound, TemporaryError, TradingError
from trading.markets import symbol_key
from trading.orders import OrderKind, OrderState, OrderStatus

logger = logging.getLogger(__name__)

UNFINISHED_ALERTS = (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING)
Owned = Callable[[int | None, str], bool]
Down = set[tuple[int, bool]]  # (broker id, paper) of exchanges that failed temporarily in this pass


def _candidates(*, live_only: bool, paper_only: bool) -> QuerySet[Order]:
    orders = Order.objects.filter(status__in=[OrderStatus.SUBMITTING, OrderStatus.OPEN]).select_related(
        "webhook", "position", "broker"
    )
    if live_only:
        orders = orders.filter(paper=False)
    if paper_only:
        orders = orders.filter(paper=True)
    return orders.order_by("id")


def _protect_candidates(gateway: GatewayClient) -> QuerySet[WebhookState]:
    positions = WebhookState.objects.filter(status=PositionStatus.OPEN, protection_mode=ProtectionMode.ENGINE)
    if gateway.force_paper:
        positions = positions.filter(paper=True)
    return positions.order_by("id")


@dataclass
class PartitionWork:
    """What one pass asks the exchange about one user's symbol (ids: rows are read again once
    the partition is the pass's)."""

    orders: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    exchanges: set[tuple[int, bool]] = field(default_factory=set)  # (broker id, paper)


def partition_work(gateway: GatewayClient, *, live_only: bool) -> dict[tuple[int | None, str], PartitionWork]:
    """The orders to settle and the positions to protect again, by user and symbol key."""
    work: dict[tuple[int | None, str], PartitionWork] = {}
    orders = _candidates(live_only=live_only, paper_only=gateway.force_paper)
    for order_id, user_id, symbol, broker_id, paper in orders.values_list(
        "id", "user_id", "symbol", "broker_id", "paper"
    ):
        item = work.setdefault((user_id, symbol_key(symbol)), PartitionWork())
        item.orders.append(order_id)
        item.exchanges.add((broker_id, paper))
    positions = _protect_candidates(gateway).values_list("id", "user_id", "symbol", "broker_id", "paper")
    for position_id, user_id, symbol, broker_id, paper in positions:
        item = work.setdefault((user_id, symbol_key(symbol)), PartitionWork())
        item.positions.append(position_id)
        item.exchanges.add((broker_id, paper))
    return work


def orders_reconcile(
    gateway: GatewayClient,
    *,
    live_only: bool = False,
    owned: Owned | None = None,
    ids: list[int] | None = None,
    down: Down | None = None,
) -> int:
    """Look up orders still `submitting` or `open` by client order id and apply what the
    exchange says; fills first, so that a target's fill is known before its stop's expiry.

    Each order is asked where it was placed (a paper one on the paper exchange); an engine
    running with --test settles only paper orders, never a live one. An order the exchange
    never received is marked rejected; a protective order that disappeared is marked cancelled
    and its position protected again. With `owned(user_id, symbol)`, only the orders of this
    engine's partitions; with `ids`, only those orders. An exchange in `down` is not asked,
    and one that fails temporarily is added to it. Returns the count settled.
    """
    answers: list[tuple[Order, OrderState]] = []
    settled = 0
    down = set() if down is None else down
    candidates = _candidates(live_only=live_only, paper_only=gateway.force_paper)
    if ids is not None:
        candidates = candidates.filter(pk__in=ids)
    for order in candidates:
        if owned is not None and not owned(order.user_id, order.symbol):
            continue  # another engine owns its partition
        if order.webhook is not None and order.webhook.status in UNFINISHED_ALERTS:
            continue  # its alert's stream entry is still pending and will settle it
        if (order.broker_id, order.paper) in down:
            continue  # its exchange did not answer in this pass: the next pass asks again
        try:
            state = gateway.routed(paper=order.paper).fetch_order(
                order.broker_id, symbol=order.symbol, client_order_id=order.client_order_id
            )
        except OrderNotFound:
            settled += _isolated("settling", order, _vanished, order, gateway)
            continue
        except TradingError as exc:
            level = logging.INFO if isinstance(exc, TemporaryError) else logging.WARNING
            logger.log(level, "reconciliation of %s postponed: %s", order.client_order_id, exc)
            if isinstance(exc, TemporaryError):
                down.add((order.broker_id, order.paper))
            continue
        except Exception as exc:
            logger.exception("reconciliation of %s postponed: %s", order.client_order_id, failure_text(exc))
            continue
        if state.status != order.status or state.filled != order.filled:
            answers.append((order, state))
    answers.sort(key=lambda pair: (pair[1].status != OrderStatus.FILLED, pair[0].pk))
    applied = []
    for order, state in answers:
        if _isolated("applying", order, order_state_apply, order, state):
            applied.append(order)
    for order in applied:
        _isolated("following up", order, _follow_up, order, gateway)
    settled += len(applied)
    if settled:
        logger.info("reconciled %d order(s)", settled)
    return settled


def _isolated(doing: str, order: Order, step: Callable[..., object], *args: object) -> int:
    """Run one item's step; a failure is logged and left for the next pass. 1 when it ran."""
    try:
        with market_hold(order.broker_id, order.symbol):
            step(*args)
    except Exception as exc:
        logger.exception("reconciliation: %s %s failed, next pass: %s", doing, order.client_order_id, failure_text(exc))
        return 0
    return 1


def _follow_up(order: Order, gateway: GatewayClient) -> None:
    warning = order_follow_up_guarded(order, gateway)
    if warning:
        logger.warning("order %s: %s", order.client_order_id, warning)


def _vanished(order: Order, gateway: GatewayClient) -> int:
    if order.status == OrderStatus.SUBMITTING:
        order.error_message = "never reached the exchange (no order with this client id was found)"
        order.status = OrderStatus.REJECTED
    else:
        order.error_message = "disappeared from the exchange"
        order.status = OrderStatus.CANCELED
    order.save(update_fields=["status", "error_message", "updated_at"])
    position = order.position
    if position is None or position.status != PositionStatus.OPEN:
        return 1
    if order.kind in PROTECTIVE:
        logger.error("protective order %s of position #%s %s", order.client_order_id, position.pk, order.error_message)
        _reprotect(position, gateway, origin=f"{order_origin(order)}r")
    elif order.kind == OrderKind.EXIT:  # the coins it held are free: protect them again
        _reprotect(position, gateway, origin=f"{order_origin(order)}r")
    return 1


def _reprotect(position: WebhookState, gateway: GatewayClient, *, origin: str) -> None:
    try:
        protection_sync(position, gateway, origin=origin)
    except Exception as exc:
        logger.error("position #%s is guarded by the engine, not the exchange: %s", position.pk, failure_text(exc))


def positions_protect_again(
    gateway: GatewayClient, *, owned: Owned | None = None, ids: list[int] | None = None, down: Down | None = None
) -> int:
    """Ask the exchange again to hold the stop-loss / take-profit of the open positions the
    engine guards because placing them failed (not those whose exchange cannot hold them).
    An engine running with --test retries paper positions only; `ids`, `owned` and `down` as
    for `orders_reconcile`. Returns how many the exchange holds now."""
    positions = _protect_candidates(gateway)
    if ids is not None:
        positions = positions.filter(pk__in=ids)
    down = set() if down is None else down
    held = 0
    for position in positions:
        if owned is not None and not owned(position.user_id, position.symbol):
            continue
        if (position.broker_id, position.paper) in down:
            continue
        if position.stop_loss_price is None and position.take_profit_price is None:
            continue
        if protection_unsupported(position):
            continue
        try:
            with market_hold(position.broker_id, position.symbol):
                protection_retry(position, gateway)
        except Exception as exc:
            level = logging.INFO if isinstance(exc, TemporaryError) else logging.WARNING
            logger.log(level, "position #%s still guarded by the engine: %s", position.pk, failure_text(exc))
            if isinstance(exc, TemporaryError):
                down.add((position.broker_id, position.paper))
            continue
        position.refresh_from_db()
        if position.protection_mode == ProtectionMode.EXCHANGE:
            logger.info("position #%s %s: the exchange holds its protection again", position.pk, position.symbol)
            held += 1
    return held
