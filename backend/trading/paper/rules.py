"""The rules the paper exchange enforces before matching, as real exchanges do."""

from __future__ import annotations

from decimal import Decimal

from trading.errors import OrderInvalid
from trading.markets import Market, is_on_step
from trading.numbers import decimal_text
from trading.orders import OrderRequest, OrderSide, OrderType, ProtectionRequest


def required(value: Decimal | None, message: str) -> Decimal:
    if value is None:
        raise OrderInvalid(message)
    return value


def check_request(request: OrderRequest, market: Market) -> None:
    """The rules a real exchange enforces before matching: the right market, sells for stops, rounded numbers."""
    if request.symbol != market.symbol:
        raise OrderInvalid(f"the order is for {request.symbol} but the market given is {market.symbol}")
    if request.type in {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_LIMIT} and request.side is not OrderSide.SELL:
        raise OrderInvalid(f"the paper exchange supports {request.type} orders only to sell")
    if not is_on_step(request.amount, market.amount_step):
        raise OrderInvalid(
            f"amount {decimal_text(request.amount)} {market.base} is not a multiple of the amount step "
            f"{decimal_text(market.amount_step)} for {market.symbol}: round it first"
        )
    for name, price in (("price", request.price), ("stop price", request.stop_price)):
        if price is not None and not is_on_step(price, market.price_step):
            raise OrderInvalid(
                f"{name} {decimal_text(price)} is not a multiple of the price step "
                f"{decimal_text(market.price_step)} for {market.symbol}: round it first"
            )


def trigger_price(request: OrderRequest) -> Decimal:
    """The price a stop (stop_price) or a take-profit (price) waits for."""
    if request.type is OrderType.STOP_MARKET:
        return required(request.stop_price, "a stop-market order needs a stop price")
    return required(request.price, "a take-profit order needs a price")


def check_not_triggered(kind: OrderType, *, trigger: Decimal, market_price: Decimal | None, market: Market) -> None:
    """Refuse a stop or take-profit the market has already crossed, as exchanges do ("would trigger immediately")."""
    if market_price is None:
        return
    if kind is OrderType.STOP_MARKET and market_price <= trigger:
        raise OrderInvalid(
            f"stop-loss {decimal_text(trigger)} is at or above the market price {decimal_text(market_price)} "
            f"for {market.symbol}: it would trigger at once"
        )
    if kind is OrderType.TAKE_PROFIT_LIMIT and market_price >= trigger:
        raise OrderInvalid(
            f"take-profit {decimal_text(trigger)} is at or below the market price {decimal_text(market_price)} "
            f"for {market.symbol}: it would trigger at once"
        )


def protection_legs(request: ProtectionRequest, market: Market) -> list[OrderRequest]:
    """The stop-loss and take-profit orders a protection request asks for, stop first."""
    legs: list[OrderRequest] = []
    if request.stop_loss_price is not None:
        client_id = _required_id(request.stop_loss_client_order_id, "stop-loss")
        legs.append(_leg(request, client_id, OrderType.STOP_MARKET, stop_price=request.stop_loss_price))
    if request.take_profit_price is not None:
        client_id = _required_id(request.take_profit_client_order_id, "take-profit")
        legs.append(_leg(request, client_id, OrderType.TAKE_PROFIT_LIMIT, price=request.take_profit_price))
    if not legs:
        raise OrderInvalid(f"a protection for {market.symbol} needs a stop-loss or a take-profit price")
    if len(legs) == 2:
        if legs[0].client_order_id == legs[1].client_order_id:
            raise OrderInvalid("the stop-loss and the take-profit need different client order ids")
        stop, take = trigger_price(legs[0]), trigger_price(legs[1])
        if stop >= take:
            raise OrderInvalid(f"stop-loss {decimal_text(stop)} is not below the take-profit {decimal_text(take)}")
    return legs


def _required_id(client_order_id: str | None, name: str) -> str:
    if not client_order_id:
        raise OrderInvalid(f"the {name} needs a client order id")
    return client_order_id


def _leg(
    request: ProtectionRequest,
    client_order_id: str,
    kind: OrderType,
    *,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=request.symbol,
        side=OrderSide.SELL,
        type=kind,
        amount=request.amount,
        price=price,
        stop_price=stop_price,
    )
