"""Order sizing from `PourCent`."""

from __future__ import annotations

from decimal import Decimal

from trading.markets import Market


def buy_amount(*, free_quote: Decimal, pour_cent: Decimal, price: Decimal, market: Market) -> Decimal:
    """Base amount to buy so that cost plus the taker fee spends `pour_cent`% of the free
    quote balance; rounded down to the market's step and checked against its minimums."""
    raise NotImplementedError


def sell_amount(*, position_quantity: Decimal, pour_cent: Decimal, price: Decimal, market: Market) -> Decimal:
    """Base amount to sell: `pour_cent`% of the position, rounded down to the step; at 100%
    the whole position. Checked against the market's minimums."""
    raise NotImplementedError
