"""Order sizing from `PourCent`."""

from __future__ import annotations

from decimal import Decimal

from trading.errors import InsufficientFunds, OrderInvalid
from trading.markets import Market, amount_round, order_check_limits
from trading.numbers import decimal_text, money_text


def buy_amount(*, free_quote: Decimal, pour_cent: Decimal, price: Decimal, market: Market) -> Decimal:
    """Base amount to buy so that cost plus the taker fee spends `pour_cent`% of the free
    quote balance; rounded down to the market's step and checked against its minimums."""
    _check_pour_cent(pour_cent)
    if price <= 0:
        raise OrderInvalid(f"price {decimal_text(price)} {market.quote} must be positive")
    if free_quote <= 0:
        raise InsufficientFunds(
            f"no free {market.quote} to buy {market.base}: the free balance is {money_text(free_quote)} {market.quote}"
        )
    spend = free_quote * pour_cent / 100
    amount = amount_round(spend / (price * (1 + market.taker_fee)), market)
    try:
        order_check_limits(amount=amount, price=price, market=market)
    except OrderInvalid as error:
        raise OrderInvalid(
            f"{error} ({decimal_text(pour_cent)}% of the free {money_text(free_quote)} {market.quote} "
            f"at {decimal_text(price)})"
        ) from None
    return amount


def sell_amount(*, position_quantity: Decimal, pour_cent: Decimal, price: Decimal, market: Market) -> Decimal:
    """Base amount to sell: `pour_cent`% of the position, rounded down to the step; at 100%
    the whole position. Checked against the market's minimums."""
    _check_pour_cent(pour_cent)
    if position_quantity <= 0:
        raise OrderInvalid(f"there is no {market.base} position to sell on {market.symbol}")
    share = position_quantity if pour_cent == 100 else position_quantity * pour_cent / 100
    amount = amount_round(share, market)
    try:
        order_check_limits(amount=amount, price=price, market=market)
    except OrderInvalid as error:
        if pour_cent == 100:
            advice = "the position is too small to sell on the exchange: sell it by hand or buy more first"
        else:
            advice = "sell a larger share"
        raise OrderInvalid(
            f"{error}: {decimal_text(pour_cent)}% of the position of {decimal_text(position_quantity)} "
            f"{market.base}; {advice}"
        ) from None
    return amount


def _check_pour_cent(pour_cent: Decimal) -> None:
    if not 0 < pour_cent <= 100:
        raise OrderInvalid(f"PourCent must be more than 0 and at most 100, got {decimal_text(pour_cent)}")
