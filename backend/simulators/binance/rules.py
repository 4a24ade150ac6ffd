"""Binance's order filters and trigger rules, answered with Binance's error codes."""

from __future__ import annotations

import secrets
from decimal import ROUND_DOWN, Decimal

from simulators.binance.errors import WOULD_TRIGGER, filter_failure, order_rejected
from simulators.binance.wire import MAX_NOTIONAL, MAX_PRICE, MAX_QTY
from trading.markets import Market, is_on_step

STOP_LOSS_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})
TAKE_PROFIT_TYPES = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})


def random_client_id() -> str:
    """A client order id as Binance makes one when the request has none: 22 letters and digits."""
    return secrets.token_hex(11)


def check_price(market: Market, price: Decimal) -> None:
    """PRICE_FILTER: within [tickSize, maxPrice] and a whole number of ticks."""
    if price < market.price_step or price > MAX_PRICE or not is_on_step(price, market.price_step):
        raise filter_failure("PRICE_FILTER")


def check_quantity(market: Market, quantity: Decimal) -> None:
    """LOT_SIZE: within [minQty, maxQty] and a whole number of steps."""
    minimum = market.min_amount or market.amount_step
    if quantity < minimum or quantity > MAX_QTY or not is_on_step(quantity, market.amount_step):
        raise filter_failure("LOT_SIZE")


def check_notional(market: Market, quantity: Decimal, price: Decimal, *, is_market: bool) -> None:
    """NOTIONAL: at least minNotional; the maximum applies to limit orders only (applyMaxToMarket false)."""
    value = quantity * price
    if (market.min_cost is not None and value < market.min_cost) or (not is_market and value > MAX_NOTIONAL):
        raise filter_failure("NOTIONAL")


def check_trigger(order_type: str, stop_price: Decimal, last: Decimal | None) -> None:
    """A sell stop-loss waits for the price to fall to its stopPrice, a sell take-profit for it to rise."""
    if last is None:
        return
    if (order_type in STOP_LOSS_TYPES and last <= stop_price) or (
        order_type in TAKE_PROFIT_TYPES and last >= stop_price
    ):
        raise order_rejected(WOULD_TRIGGER)


def quantity_for_quote(market: Market, quote_qty: Decimal, last: Decimal) -> Decimal:
    """quoteOrderQty: as much base as that much quote buys (or as a sell needs) at the last price, in whole steps."""
    steps = (quote_qty / last / market.amount_step).to_integral_value(rounding=ROUND_DOWN)
    return steps * market.amount_step
