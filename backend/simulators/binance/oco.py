"""OCO order lists: POST /api/v3/orderList/oco (current) and /api/v3/order/oco (deprecated), their lookup
and cancel. The paper engine places a sell stop-loss and take-profit sharing one lock; sell OCOs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simulators.binance.errors import (
    BAD_OCO_PRICES,
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    UNKNOWN_ORDER,
    BinanceError,
    order_rejected,
)
from simulators.binance.orders import SIDES, TIME_IN_FORCE
from simulators.binance.params import Params
from simulators.binance.rules import check_notional, check_price, check_quantity, random_client_id
from simulators.core.state import OrderList, SimAccount, Simulator, WireOrder
from trading.errors import InsufficientFunds, OrderInvalid
from trading.markets import Market
from trading.orders import ProtectionRequest

ABOVE_TYPES = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")  # what a sell OCO takes profit with
BELOW_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT")
_LEG_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
_REQUIRED = {
    "LIMIT_MAKER": ("Price",),
    "STOP_LOSS": ("StopPrice",),
    "TAKE_PROFIT": ("StopPrice",),
    "STOP_LOSS_LIMIT": ("Price", "StopPrice", "TimeInForce"),
    "TAKE_PROFIT_LIMIT": ("Price", "StopPrice", "TimeInForce"),
}


@dataclass(frozen=True)
class OcoLeg:
    """One order of an OCO as requested."""

    type: str
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    client_order_id: str

    @property
    def trigger(self) -> Decimal:
        """The price the leg waits for: a LIMIT_MAKER's price, otherwise its stopPrice."""
        return (self.price if self.type == "LIMIT_MAKER" else self.stop_price) or Decimal(0)


@dataclass(frozen=True)
class OcoPlacement:
    market: Market
    side: str
    quantity: Decimal
    above: OcoLeg
    below: OcoLeg
    list_client_order_id: str


def oco_parse(simulator: Simulator, params: Params) -> OcoPlacement:
    """POST /api/v3/orderList/oco: aboveType / belowType with above*/below* prices and client ids."""
    market, side, quantity = _common(simulator, params)
    return OcoPlacement(
        market=market,
        side=side,
        quantity=quantity,
        above=_leg(params, "above"),
        below=_leg(params, "below"),
        list_client_order_id=params.client_id("listClientOrderId") or random_client_id(),
    )


def oco_parse_legacy(simulator: Simulator, params: Params) -> OcoPlacement:
    """POST /api/v3/order/oco: a LIMIT_MAKER at `price` and a STOP_LOSS(_LIMIT) at `stopPrice`."""
    market, side, quantity = _common(simulator, params)
    stop_limit = params.decimal("stopLimitPrice")
    if stop_limit is not None:
        params.required("stopLimitTimeInForce")
    limit_leg = OcoLeg(
        "LIMIT_MAKER", params.required_decimal("price"), None, "GTC", _client_id(params, "limitClientOrderId")
    )
    stop_leg = OcoLeg(
        "STOP_LOSS_LIMIT" if stop_limit is not None else "STOP_LOSS",
        stop_limit,
        params.required_decimal("stopPrice"),
        _time_in_force(params, "stopLimitTimeInForce"),
        _client_id(params, "stopClientOrderId"),
    )
    above, below = (limit_leg, stop_leg) if side == "SELL" else (stop_leg, limit_leg)
    return OcoPlacement(
        market, side, quantity, above, below, params.client_id("listClientOrderId") or random_client_id()
    )


def _common(simulator: Simulator, params: Params) -> tuple[Market, str, Decimal]:
    market = simulator.market(params.required("symbol"))
    side = params.choice("side", SIDES, code=-1117, msg="Invalid side.")
    return market, side, params.required_decimal("quantity")


def _leg(params: Params, prefix: str) -> OcoLeg:
    kind = params.choice(f"{prefix}Type", _LEG_TYPES, code=-1116, msg="Invalid orderType.")
    for suffix in _REQUIRED[kind]:
        params.required(f"{prefix}{suffix}")
    return OcoLeg(
        kind,
        params.decimal(f"{prefix}Price"),
        params.decimal(f"{prefix}StopPrice"),
        _time_in_force(params, f"{prefix}TimeInForce"),
        _client_id(params, f"{prefix}ClientOrderId"),
    )


def _time_in_force(params: Params, name: str) -> str:
    value = params.get(name) or "GTC"
    if value not in TIME_IN_FORCE:
        raise BinanceError(-1115, "Invalid timeInForce.")
    return value


def _client_id(params: Params, name: str) -> str:
    return params.client_id(name) or random_client_id()


def oco_check(simulator: Simulator, placement: OcoPlacement) -> None:
    """Filters per leg, and Binance's sell rule: take-profit above the last price, stop-loss below it."""
    market, above, below = placement.market, placement.above, placement.below
    if placement.side != "SELL" or above.type not in ABOVE_TYPES or below.type not in BELOW_TYPES:
        raise order_rejected(
            "The exchange simulator supports only sell OCOs: LIMIT_MAKER, TAKE_PROFIT or TAKE_PROFIT_LIMIT above, "
            "STOP_LOSS or STOP_LOSS_LIMIT below."
        )
    check_quantity(market, placement.quantity)
    for leg in (above, below):
        for price in (leg.price, leg.stop_price):
            if price is not None:
                check_price(market, price)
        check_notional(market, placement.quantity, leg.trigger, is_market=False)
    last = simulator.last_price(market.id)
    if not below.trigger < above.trigger or (last is not None and not below.trigger < last < above.trigger):
        raise order_rejected(BAD_OCO_PRICES)


def oco_place(simulator: Simulator, account: SimAccount, placement: OcoPlacement) -> OrderList:
    """Place both legs in the paper book as one protection (one lock); -2010 on a duplicate or too little balance."""
    for leg in (placement.below, placement.above):
        existing = account.find(order_id=None, client_order_id=leg.client_order_id)
        if existing is not None and account.is_open(existing):
            raise order_rejected(DUPLICATE_ORDER)
    oco_check(simulator, placement)
    market, now = placement.market, simulator.now_ms()
    request = ProtectionRequest(
        symbol=market.symbol,
        amount=placement.quantity,
        stop_loss_client_order_id=account.engine_client_id(placement.below.client_order_id),
        stop_loss_price=placement.below.trigger,
        take_profit_client_order_id=account.engine_client_id(placement.above.client_order_id),
        take_profit_price=placement.above.trigger,
    )
    try:
        stop, take = account.book.create_protection(
            request, market=market, market_price=simulator.last_price(market.id), now_ms=now
        )
    except InsufficientFunds:
        raise order_rejected(INSUFFICIENT_BALANCE) from None
    except OrderInvalid as error:
        raise order_rejected(str(error)) from None
    listed = OrderList(
        account.next_list_id(), placement.list_client_order_id, market.id, (int(stop.id), int(take.id)), now
    )
    for state, leg in ((stop, placement.below), (take, placement.above)):
        account.remember(
            WireOrder(
                order_id=int(state.id),
                symbol=market.id,
                client_order_id=leg.client_order_id,
                side=placement.side,
                type=leg.type,
                time_in_force=leg.time_in_force,
                price=leg.price or Decimal(0),
                stop_price=leg.stop_price or Decimal(0),
                orig_qty=placement.quantity,
                orig_quote_qty=Decimal(0),
                time_ms=now,
                order_list_id=listed.order_list_id,
            )
        )
    account.remember_list(listed)
    return listed


def order_list_find(account: SimAccount, params: Params, *, client_param: str, missing: BinanceError) -> OrderList:
    """The list named by orderListId, else by its client id (`client_param`); `missing` when there is none."""
    order_list_id = params.integer("orderListId")
    list_client_order_id = params.get(client_param)
    if order_list_id is None and list_client_order_id is None:
        raise BinanceError(-1102, f"Param '{client_param}' or 'orderListId' must be sent, but both were empty/null!")
    listed = account.find_list(order_list_id=order_list_id, list_client_order_id=list_client_order_id)
    if listed is None:
        raise missing
    return listed


def order_list_cancel(simulator: Simulator, account: SimAccount, listed: OrderList) -> list[WireOrder]:
    """Cancel both legs; -2011 when the list is already done."""
    legs = [account.orders[order_id] for order_id in listed.order_ids]
    if not any(account.is_open(leg) for leg in legs):
        raise BinanceError(-2011, UNKNOWN_ORDER)
    now = simulator.now_ms()
    for leg in legs:
        if account.is_open(leg):
            account.book.cancel_order(order_id=str(leg.order_id), now_ms=now)
    return legs


def open_order_lists(account: SimAccount) -> list[OrderList]:
    return [
        listed
        for _, listed in sorted(account.lists.items())
        if any(account.is_open(account.orders[order_id]) for order_id in listed.order_ids)
    ]
