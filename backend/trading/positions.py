"""A long spot position's quantity, average entry, fees and P&L.

Realised P&L of a sell = (sell price − average entry) × quantity sold − fees, where the fees
are the sell's fee plus the share of the entry fees that belongs to the quantity sold.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Position:
    quantity: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)
    entry_fees: Decimal = Decimal(0)  # entry fees (quote) not yet charged to realised P&L
    realized_pnl: Decimal = Decimal(0)

    @property
    def is_flat(self) -> bool:
        return self.quantity <= 0


def position_apply_buy(position: Position, *, amount: Decimal, price: Decimal, fee: Decimal) -> Position:
    """The position after a buy fill: quantity grows, entry price is the weighted average."""
    raise NotImplementedError


def position_apply_sell(position: Position, *, amount: Decimal, price: Decimal, fee: Decimal) -> Position:
    """The position after a sell fill, with the realised P&L of the quantity sold added."""
    raise NotImplementedError


def position_unrealized_pnl(position: Position, *, price: Decimal) -> Decimal:
    """(price − entry) × quantity − the entry fees still carried."""
    raise NotImplementedError
