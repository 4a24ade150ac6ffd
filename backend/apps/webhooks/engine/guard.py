"""The engine's guard for positions whose exchange cannot hold their stop-loss or take-profit.

When a price crosses a guarded stop (low ≤ stop) or target (high ≥ target), the position is
closed with a market sell. Prices come from heartbeat candles and from the alerts themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.ids import client_order_id
from apps.webhooks.engine.orders import order_record, order_submit
from apps.webhooks.engine.positions import order_follow_up, order_state_apply
from apps.webhooks.models import Order, PositionStatus, ProtectionMode, WebhookState
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
    owned: Callable[[int | None, str], bool] | None = None,
) -> int:
    """Close the engine-guarded open positions on `symbol` that the price range crossed
    (only those of brokers on `exchange` when given: a price acts on its own market only;
    only those of this engine's partitions when `owned` is given)."""
    positions = WebhookState.objects.filter(
        status=PositionStatus.OPEN, protection_mode=ProtectionMode.ENGINE, symbol=symbol
    )
    if broker_id is not None:
        positions = positions.filter(broker_id=broker_id)
    if exchange is not None:
        positions = positions.filter(broker__exchange=exchange)
    closed = 0
    for position in positions.select_related("broker"):
        if owned is not None and not owned(position.user_id, position.symbol):
            continue
        kind = guard_crossed(position, low=low, high=high)
        if kind is None or position.quantity <= 0:
            continue
        attempt = Order.objects.filter(position=position, client_order_id__contains=f"-g{position.pk}-").count()
        trigger = position.stop_loss_price if kind is OrderKind.STOP_LOSS else position.take_profit_price
        order = order_record(
            broker=position.broker,
            client_order_id=client_order_id(origin=f"g{position.pk}", kind=kind, attempt=attempt),
            kind=kind,
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            symbol=position.symbol,
            amount=position.quantity,
            position=position,
        )
        logger.warning(
            "position #%s %s crossed its %s at %s: closing with a market sell", position.pk, symbol, kind, trigger
        )
        state = order_submit(order, gateway, reference_price=trigger)
        order_state_apply(order, state)
        order_follow_up(order, gateway)
        closed += 1
    return closed
