"""The engine's guard for positions whose exchange cannot hold their stop-loss or take-profit.

When a price crosses a guarded stop (low ≤ stop) or target (high ≥ target), the position is
closed with a market sell. Prices come from heartbeat candles and from the alerts themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from django.db.models import Q

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.cancels import exits_cancel, protection_cancel
from apps.webhooks.engine.failures import failure_text
from apps.webhooks.engine.follow_ups import order_follow_up
from apps.webhooks.engine.ids import client_order_id, position_origin
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.market_lock import market_hold
from apps.webhooks.engine.orders import LIVE, order_record, order_submit
from apps.webhooks.models import Order, PositionStatus, ProtectionMode, WebhookState
from trading.errors import TemporaryError
from trading.orders import OrderKind, OrderSide, OrderType

logger = logging.getLogger(__name__)


def guard_crossed(position: WebhookState, *, low: Decimal, high: Decimal) -> OrderKind | None:
    """Which protection the candle crossed; the stop wins when both were (conservative)."""
    if position.stop_loss_price is not None and low <= position.stop_loss_price:
        return OrderKind.STOP_LOSS
    if position.take_profit_price is not None and high >= position.take_profit_price:
        return OrderKind.TAKE_PROFIT
    return None


def positions_guard(
    gateway: GatewayClient,
    *,
    symbol: str,
    low: Decimal,
    high: Decimal,
    broker_id: int | None = None,
    exchange: str | None = None,
    paper: bool | None = None,
    owned: Callable[[int | None, str], bool] | None = None,
) -> int:
    """Close the engine-guarded open positions on `symbol` that the price range crossed.

    A price acts on its own market only: with `exchange`, the live positions of brokers on that
    exchange, and the paper positions too when `paper` (the paper feed's prices); with `paper`
    alone, only positions of that mark. A --test engine never guards a live position. With
    `owned`, only this engine's partitions. Each position is guarded on its own: a failure is
    logged and the others still run; a temporary one is raised at the end (the candle is retried,
    and the retry finds the sell in flight by its client order id).
    """
    positions = WebhookState.objects.filter(
        status=PositionStatus.OPEN, protection_mode=ProtectionMode.ENGINE, symbol=symbol
    )
    if broker_id is not None:
        positions = positions.filter(broker_id=broker_id)
    if exchange is not None:
        positions = positions.filter(_venues(exchange, paper))
    elif paper is not None:
        positions = positions.filter(paper=paper)
    if gateway.force_paper:
        positions = positions.filter(paper=True)
    # A light read of every guarded position; only the crossed ones are loaded in full.
    crossed = [
        pk
        for pk, user_id, position_symbol, stop, target, quantity in positions.values_list(
            "pk", "user_id", "symbol", "stop_loss_price", "take_profit_price", "quantity"
        )
        if quantity > 0
        and ((stop is not None and low <= stop) or (target is not None and high >= target))
        and (owned is None or owned(user_id, position_symbol))
    ]
    closed = 0
    postponed: TemporaryError | None = None
    for position in WebhookState.objects.filter(pk__in=crossed).select_related("broker").order_by("pk"):
        kind = guard_crossed(position, low=low, high=high)
        if kind is None or position.quantity <= 0:
            continue
        try:
            with market_hold(position.broker_id, position.symbol):
                position.refresh_from_db()  # as it is now that no one else changes it
                if position.status != PositionStatus.OPEN or position.protection_mode != ProtectionMode.ENGINE:
                    continue
                position_guard_close(position, gateway, kind=kind)
        except TemporaryError as exc:
            logger.warning("guard of position #%s %s postponed: %s", position.pk, symbol, exc)
            postponed = exc
            continue
        except Exception as exc:
            logger.exception("guard of position #%s %s failed: %s", position.pk, symbol, failure_text(exc))
            continue
        closed += 1
    if postponed is not None:
        raise postponed
    return closed


def _venues(exchange: str, paper: bool | None) -> Q:
    live = Q(paper=False, broker__exchange=exchange)
    return live | Q(paper=True) if paper else live


def position_guard_close(position: WebhookState, gateway: GatewayClient, *, kind: OrderKind) -> None:
    """Sell the whole position at market because its `kind` price was crossed.

    The client order id is deterministic: `<position key>` and the protection it replaces, and
    the number of guard sells that ended before. A sell still in flight (a retry after a gateway
    timeout) is looked up and finished, never sent again.
    """
    origin = position_origin(position)
    ours = Order.objects.filter(position=position, client_order_id__contains=f"-{origin}-")
    order = ours.filter(status__in=LIVE).order_by("id").first()
    if order is None:
        trigger = position.stop_loss_price if kind is OrderKind.STOP_LOSS else position.take_profit_price
        logger.warning(
            "position #%s %s crossed its %s at %s: closing with a market sell",
            position.pk,
            position.symbol,
            kind,
            trigger,
        )
        # A stop, target or limit sell resting anyway would hold the coins.
        protection_cancel(position, gateway)
        exits_cancel(position, gateway)
        position.refresh_from_db()
        if position.status != PositionStatus.OPEN or position.quantity <= 0:
            return
        order = order_record(
            broker=position.broker,
            client_order_id=client_order_id(origin=origin, kind=kind, attempt=ours.count()),
            kind=kind,
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            symbol=position.symbol,
            amount=position.quantity,
            position=position,
            paper=position.paper,
        )
    trigger = position.stop_loss_price if OrderKind(order.kind) is OrderKind.STOP_LOSS else position.take_profit_price
    state = order_submit(order, gateway, reference_price=trigger)
    order_state_apply(order, state)
    order_follow_up(order, gateway)
