"""Comparing Aristobot's records with an exchange's book: which orders to repair, which
balances disagree with the open positions. Pure: the gateway gathers both sides and acts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from trading.markets import Market
from trading.numbers import decimal_text
from trading.orders import OrderState, OrderStatus

SENT = (OrderStatus.SUBMITTING, OrderStatus.OPEN)  # statuses whose outcome the book decides


@dataclass(frozen=True)
class RecordedOrder:
    """An order as Aristobot's records have it."""

    client_order_id: str
    symbol: str
    status: OrderStatus
    filled: Decimal = Decimal(0)
    settled: bool = True  # False while its caller may still be placing it (too recent to call missing)


@dataclass
class OrderRepairs:
    """What the book says that the records do not."""

    cancel: list[OrderState] = field(default_factory=list)  # open on the book, final in the records
    report: list[OrderState] = field(default_factory=list)  # the book's newer state of a recorded order
    missing: list[RecordedOrder] = field(default_factory=list)  # recorded as sent, unknown to the book


def orders_compare(
    *,
    records: Mapping[str, RecordedOrder],
    book_open: Iterable[OrderState],
    looked_up: Mapping[str, OrderState | None],
) -> OrderRepairs:
    """Compare the records with the book.

    `book_open`: the orders open on the book; `looked_up`: the book's state of each recorded
    order still `submitting` or `open` (None: the book does not know it). An order open on the
    book that the records do not know is left alone (not Aristobot's); one the records call
    final is to be cancelled. A recorded order whose book state differs is reported; one the
    book does not know is missing once it is settled.
    """
    repairs = OrderRepairs()
    for state in book_open:
        record = records.get(state.client_order_id)
        if record is not None and record.status.is_final:
            repairs.cancel.append(state)
    for client_order_id, record in records.items():
        if record.status not in SENT or client_order_id not in looked_up:
            continue
        found = looked_up[client_order_id]
        if found is None:
            if record.settled:
                repairs.missing.append(record)
        elif found.status != record.status or found.filled != record.filled:
            repairs.report.append(found)
    return repairs


@dataclass(frozen=True)
class BalanceCheck:
    """One symbol's verdict: `warning` is empty when the balance agrees with the position."""

    symbol: str
    warning: str


def balances_compare(
    *,
    totals: Mapping[str, Decimal],
    positions: Mapping[str, Decimal],
    markets: Mapping[str, Market],
) -> list[BalanceCheck]:
    """For every symbol of `positions` (open quantity per symbol, 0 when none is open), whether
    the exchange's total base balance equals the open positions in that base currency, within
    one amount step of the market (the largest step when several markets share the base).

    Symbols without a spot market in `markets` (unknown, or futures) get no verdict.
    """
    by_base: dict[str, list[Market]] = {}
    for symbol in positions:
        market = markets.get(symbol)
        if market is None or ":" in market.symbol:
            continue
        by_base.setdefault(market.base, []).append(market)
    checks: list[BalanceCheck] = []
    for base, group in sorted(by_base.items()):
        expected = sum((positions[market.symbol] for market in group), Decimal(0))
        held = totals.get(base, Decimal(0))
        step = max(market.amount_step for market in group)
        warning = ""
        if abs(held - expected) > step:
            names = ", ".join(sorted(market.symbol for market in group))
            warning = (
                f"the exchange holds {decimal_text(held)} {base} but the open position{'s' if len(group) > 1 else ''} "
                f"({names}) hold{'' if len(group) > 1 else 's'} {decimal_text(expected)} {base} "
                f"(difference {decimal_text(held - expected)}, more than one step of {decimal_text(step)})"
            )
        checks.extend(BalanceCheck(market.symbol, warning) for market in group)
    return sorted(checks, key=lambda check: check.symbol)
