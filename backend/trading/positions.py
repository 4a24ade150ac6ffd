"""A long spot position's quantity, average entry, fees and P&L.

Realised P&L of a sell = (sell price - average entry) x quantity sold - fees, where the fees
are the sell's fee plus the share of the entry fees that belongs to the quantity sold.
All amounts are exact Decimals; round them only for display or storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.errors import OrderInvalid
from trading.numbers import decimal_text


@dataclass(frozen=True)
class Position:
    quantity: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)  # kept after the position closes, so a closed position shows it
    entry_fees: Decimal = Decimal(0)  # entry fees (quote) not yet charged to realised P&L
    realized_pnl: Decimal = Decimal(0)

    @property
    def is_flat(self) -> bool:
        return self.quantity <= 0


def position_apply_buy(position: Position, *, amount: Decimal, price: Decimal, fee: Decimal) -> Position:
    """The position after a buy fill: quantity grows, entry price is the weighted average."""
    _check_fill(amount=amount, price=price, fee=fee)
    if position.is_flat:
        return Position(quantity=amount, entry_price=price, entry_fees=fee, realized_pnl=position.realized_pnl)
    quantity = position.quantity + amount
    entry_price = (position.quantity * position.entry_price + amount * price) / quantity
    return Position(
        quantity=quantity,
        entry_price=entry_price,
        entry_fees=position.entry_fees + fee,
        realized_pnl=position.realized_pnl,
    )


def position_apply_sell(position: Position, *, amount: Decimal, price: Decimal, fee: Decimal) -> Position:
    """The position after a sell fill, with the realised P&L of the quantity sold added."""
    _check_fill(amount=amount, price=price, fee=fee)
    if amount > position.quantity:
        raise OrderInvalid(
            f"cannot sell {decimal_text(amount)}: the position holds only {decimal_text(position.quantity)}"
        )
    sold_entry_fees = (
        position.entry_fees if amount == position.quantity else position.entry_fees * amount / position.quantity
    )
    pnl = (price - position.entry_price) * amount - fee - sold_entry_fees
    return Position(
        quantity=position.quantity - amount,
        entry_price=position.entry_price,
        entry_fees=position.entry_fees - sold_entry_fees,
        realized_pnl=position.realized_pnl + pnl,
    )


def position_unrealized_pnl(position: Position, *, price: Decimal) -> Decimal:
    """(price - entry) x quantity - the entry fees still carried."""
    if position.is_flat:
        return Decimal(0)
    return (price - position.entry_price) * position.quantity - position.entry_fees


def _check_fill(*, amount: Decimal, price: Decimal, fee: Decimal) -> None:
    if amount <= 0:
        raise OrderInvalid(f"a fill's amount must be positive, got {decimal_text(amount)}")
    if price <= 0:
        raise OrderInvalid(f"a fill's price must be positive, got {decimal_text(price)}")
    if fee < 0:
        raise OrderInvalid(f"a fill's fee cannot be negative, got {decimal_text(fee)}")
