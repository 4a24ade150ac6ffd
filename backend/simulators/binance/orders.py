"""Single orders on the simulated exchange: place, cancel and look up, with Binance's parameter rules.

Binance types map onto the paper engine's: MARKET and LIMIT as they are, LIMIT_MAKER as a LIMIT
that must not take; sell STOP_LOSS / STOP_LOSS_LIMIT as a stop-market and sell TAKE_PROFIT /
TAKE_PROFIT_LIMIT as a take-profit, both filling whole at their stopPrice once triggered.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simulators.binance.errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    ORDER_DOES_NOT_EXIST,
    UNKNOWN_ORDER,
    WOULD_TAKE,
    BinanceError,
    order_rejected,
)
from simulators.binance.params import Params
from simulators.binance.rules import (
    STOP_LOSS_TYPES,
    check_notional,
    check_price,
    check_quantity,
    check_trigger,
    quantity_for_quote,
    random_client_id,
)
from simulators.binance.wire import ORDER_TYPES, STOP_TYPES
from simulators.core.state import SimAccount, Simulator, WireOrder
from trading.errors import InsufficientFunds, OrderInvalid
from trading.markets import Market
from trading.orders import OrderRequest, OrderSide, OrderStatus, OrderType

SIDES = ("BUY", "SELL")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")

# Binance's mandatory and refused parameters per order type.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "LIMIT": ("timeInForce", "quantity", "price"),
    "MARKET": (),
    "STOP_LOSS": ("quantity", "stopPrice"),
    "TAKE_PROFIT": ("quantity", "stopPrice"),
    "STOP_LOSS_LIMIT": ("timeInForce", "quantity", "price", "stopPrice"),
    "TAKE_PROFIT_LIMIT": ("timeInForce", "quantity", "price", "stopPrice"),
    "LIMIT_MAKER": ("quantity", "price"),
}
_REFUSED: dict[str, tuple[str, ...]] = {
    "LIMIT": ("stopPrice", "quoteOrderQty"),
    "MARKET": ("price", "stopPrice", "timeInForce"),
    "STOP_LOSS": ("price", "timeInForce", "quoteOrderQty"),
    "TAKE_PROFIT": ("price", "timeInForce", "quoteOrderQty"),
    "STOP_LOSS_LIMIT": ("quoteOrderQty",),
    "TAKE_PROFIT_LIMIT": ("quoteOrderQty",),
    "LIMIT_MAKER": ("stopPrice", "timeInForce", "quoteOrderQty"),
}


@dataclass(frozen=True)
class Placement:
    """A new-order request that passed Binance's parameter checks."""

    market: Market
    side: str
    type: str
    client_order_id: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    resp_type: str


def placement_parse(simulator: Simulator, params: Params) -> Placement:
    """The parameters of POST /api/v3/order, or the -11xx error Binance answers."""
    market = simulator.market(params.required("symbol"))
    side = params.choice("side", SIDES, code=-1117, msg="Invalid side.")
    kind = params.choice("type", ORDER_TYPES, code=-1116, msg="Invalid orderType.")
    for name in _REQUIRED[kind]:
        params.required(name)
    params.forbid(*_REFUSED[kind])
    time_in_force = params.get("timeInForce") or "GTC"
    if time_in_force not in TIME_IN_FORCE:
        raise BinanceError(-1115, "Invalid timeInForce.")
    resp_type = params.get("newOrderRespType") or ("FULL" if kind in ("MARKET", "LIMIT") else "ACK")
    if resp_type not in RESP_TYPES:
        raise BinanceError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    quantity, quote_qty = params.decimal("quantity"), params.decimal("quoteOrderQty")
    if kind == "MARKET" and (quantity is None) == (quote_qty is None):
        if quantity is None:
            raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    return Placement(
        market=market,
        side=side,
        type=kind,
        client_order_id=params.client_id("newClientOrderId") or random_client_id(),
        quantity=quantity,
        quote_qty=quote_qty,
        price=params.decimal("price"),
        stop_price=params.decimal("stopPrice"),
        time_in_force=time_in_force,
        resp_type=resp_type,
    )


def placement_check(simulator: Simulator, placement: Placement) -> Decimal:
    """Binance's filters and trigger rules; returns the quantity (computed for a MARKET order by quoteOrderQty)."""
    market, last = placement.market, simulator.last_price(placement.market.id)
    quantity = placement.quantity
    if placement.type == "MARKET":
        if last is None:
            raise order_rejected(
                f"No price for {market.id} in the exchange simulator yet: set one with POST /_sim/price."
            )
        if quantity is None:
            quantity = quantity_for_quote(market, placement.quote_qty or Decimal(0), last)
    quantity = quantity or Decimal(0)
    for price in (placement.price, placement.stop_price):
        if price is not None:
            check_price(market, price)
    check_quantity(market, quantity)
    reference = placement.price or placement.stop_price or last
    check_notional(market, quantity, reference or Decimal(0), is_market=placement.type == "MARKET")
    if placement.type == "LIMIT_MAKER" and _would_take(placement.side, placement.price, last):
        raise order_rejected(WOULD_TAKE)
    if placement.type in STOP_TYPES:
        if placement.side != "SELL":
            raise order_rejected(f"The exchange simulator supports {placement.type} orders only to sell.")
        check_trigger(placement.type, placement.stop_price or Decimal(0), last)
    return quantity


def _would_take(side: str, price: Decimal | None, last: Decimal | None) -> bool:
    if price is None or last is None:
        return False
    return last <= price if side == "BUY" else last >= price


def _engine_request(placement: Placement, quantity: Decimal, client_order_id: str) -> OrderRequest:
    """The paper engine's order for a Binance type; triggered orders fill at their stopPrice."""
    kind, price, stop_price = OrderType.TAKE_PROFIT_LIMIT, placement.stop_price, None
    if placement.type == "MARKET":
        kind, price = OrderType.MARKET, None
    elif placement.type in ("LIMIT", "LIMIT_MAKER"):
        kind, price = OrderType.LIMIT, placement.price
    elif placement.type in STOP_LOSS_TYPES:
        kind, price, stop_price = OrderType.STOP_MARKET, None, placement.stop_price
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=placement.market.symbol,
        side=OrderSide(placement.side.lower()),
        type=kind,
        amount=quantity,
        price=price,
        stop_price=stop_price,
    )


def order_place(simulator: Simulator, account: SimAccount, placement: Placement) -> WireOrder:
    """Place the order in the account's paper book; -2010 for a duplicate open client id or too little balance."""
    existing = account.find(order_id=None, client_order_id=placement.client_order_id)
    if existing is not None and account.is_open(existing):
        raise order_rejected(DUPLICATE_ORDER)
    quantity = placement_check(simulator, placement)
    request = _engine_request(placement, quantity, account.engine_client_id(placement.client_order_id))
    now = simulator.now_ms()
    last = simulator.last_price(placement.market.id)
    try:
        state = account.book.create_order(request, market=placement.market, market_price=last, now_ms=now)
    except InsufficientFunds:
        raise order_rejected(INSUFFICIENT_BALANCE) from None
    except OrderInvalid as error:
        raise order_rejected(str(error)) from None
    wire = WireOrder(
        order_id=int(state.id),
        symbol=placement.market.id,
        client_order_id=placement.client_order_id,
        side=placement.side,
        type=placement.type,
        time_in_force=placement.time_in_force,
        price=placement.price or Decimal(0),
        stop_price=placement.stop_price or Decimal(0),
        orig_qty=quantity,
        orig_quote_qty=placement.quote_qty or Decimal(0),
        time_ms=now,
    )
    account.remember(wire)
    if placement.time_in_force in ("IOC", "FOK") and state.status is OrderStatus.OPEN:
        account.book.cancel_order(order_id=state.id, now_ms=now)
        wire.expired = True
    return wire


def order_lookup(account: SimAccount, params: Params, *, symbol: str) -> WireOrder | None:
    """The order named by orderId, else by origClientOrderId; -1102 when neither is sent."""
    order_id = params.integer("orderId")
    client_order_id = params.get("origClientOrderId")
    if order_id is None and client_order_id is None:
        raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    wire = account.find(order_id=order_id, client_order_id=client_order_id)
    return wire if wire is not None and wire.symbol == symbol else None


def order_find(simulator: Simulator, account: SimAccount, params: Params) -> WireOrder:
    """GET /api/v3/order's order, or -2013 "Order does not exist."."""
    symbol = simulator.market(params.required("symbol")).id
    wire = order_lookup(account, params, symbol=symbol)
    if wire is None:
        raise BinanceError(-2013, ORDER_DOES_NOT_EXIST)
    return wire


def order_cancel(simulator: Simulator, account: SimAccount, wire: WireOrder) -> None:
    """Cancel an open order; an order of an OCO takes its twin along, as on Binance. -2011 when not open."""
    if not account.is_open(wire):
        raise BinanceError(-2011, UNKNOWN_ORDER)
    now = simulator.now_ms()
    legs = [wire]
    if wire.order_list_id >= 0:
        legs = [account.orders[order_id] for order_id in account.lists[wire.order_list_id].order_ids]
    for leg in legs:
        if account.is_open(leg):
            account.book.cancel_order(order_id=str(leg.order_id), now_ms=now)


def open_orders(account: SimAccount, symbol: str | None) -> list[WireOrder]:
    return [
        wire
        for _, wire in sorted(account.orders.items())
        if account.is_open(wire) and (symbol is None or wire.symbol == symbol)
    ]
