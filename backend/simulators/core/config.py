"""The simulator's startup config from command-line style values: `USDT=10000`, `BTCUSDT=40000`."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from simulators.core.state import AccountSpec, SimulatorConfig, new_key
from trading.numbers import decimal_from
from trading.paper.markets import PAPER_MARKETS, TAKER_FEE

DEFAULT_BALANCES = ("USDT=10000",)


def parse_pairs(values: Iterable[str], *, what: str) -> dict[str, Decimal]:
    """`NAME=NUMBER` values as a dict with upper-case names; ValueError naming the bad value."""
    parsed: dict[str, Decimal] = {}
    for value in values:
        name, sep, number = value.partition("=")
        amount = decimal_from(number)
        if not sep or not name.strip() or amount is None or amount < 0:
            raise ValueError(f"{what} must look like NAME=NUMBER (for example USDT=10000), not {value!r}")
        parsed[name.strip().upper().replace("/", "")] = amount
    return parsed


def simulator_config(
    *,
    api_key: str | None,
    api_secret: str | None,
    balances: Iterable[str] = DEFAULT_BALANCES,
    prices: Iterable[str] = (),
    fee_rate: Decimal = TAKER_FEE,
) -> SimulatorConfig:
    """One account (keys made when not given) with these balances, and these starting prices."""
    starting_prices = parse_pairs(prices, what="a price")
    known = {market.id for market in PAPER_MARKETS.values()}
    unknown = sorted(set(starting_prices) - known)
    if unknown:
        raise ValueError(f"no such market: {', '.join(unknown)} (markets are ids like BTCUSDT)")
    account = AccountSpec(
        api_key=api_key or new_key(),
        api_secret=api_secret or new_key(),
        balances=parse_pairs(balances, what="a balance"),
        fee_rate=fee_rate,
    )
    return SimulatorConfig(accounts=(account,), prices=starting_prices)
