"""Markets: symbol resolution, precision and minimums."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from trading.errors import AlertInvalid, OrderInvalid
from trading.numbers import decimal_text, money_text

# Separators TradingView, exchanges and traders put between base and quote.
_SEPARATORS = str.maketrans("", "", "/-_ ")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def symbol_key(symbol: object) -> str:
    """One spelling per market: `BINANCE:BTCUSDT`, `BTC/USDT` and `btc-usdt` all read `BTCUSDT`;
    a unified swap `BTC/USDT:USDT` too (the key may join a spot and a swap market, never split one)."""
    text = str(symbol or "")
    prefix, colon, _ = text.partition(":")
    text = prefix if colon and "/" in prefix else text.split(":")[-1]
    return _NOT_ALNUM.sub("", text.upper())


@dataclass(frozen=True)
class Market:
    """One spot market as the exchange defines it.

    `amount_step` and `price_step` are the smallest increments (ccxt's TICK_SIZE precision
    mode); `min_amount` and `min_cost` the exchange's minimums (None when it has none).
    """

    symbol: str  # unified: BTC/USDT
    id: str  # exchange's own id: BTCUSDT
    base: str
    quote: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal | None = None
    min_cost: Decimal | None = None
    taker_fee: Decimal = Decimal("0.001")


_NamesOf = Callable[[Market], tuple[str, str]]


def symbol_resolve(raw_symbol: str, markets: Mapping[str, Market]) -> Market:
    """Find the market a TradingView symbol names, through the markets' ids, never by slicing.

    Accepts `BTCUSDT`, `BTC/USDT`, `btcusdt`, `BINANCE:BTCUSDT`, `BTC-USDT`, `BTC_USDT`; tries
    the exact unified symbol, then ids and symbols case-insensitively, then both with their
    separators removed. Raises AlertInvalid naming the symbol when no market (or more than one
    spot market) matches.
    """
    written = raw_symbol.strip()
    if not written:
        raise AlertInvalid("Symbol is empty")
    if written in markets:
        return markets[written]
    name = _without_exchange_prefix(written).upper()
    found = _matches(name, markets.values(), lambda market: (market.id.upper(), market.symbol.upper()))
    if not found:
        bare = name.translate(_SEPARATORS)
        found = _matches(bare, markets.values(), _separator_free_names)
    if len(found) > 1:
        choices = ", ".join(sorted(market.symbol for market in found))
        raise AlertInvalid(f"Symbol {written!r} matches several markets: {choices}")
    if not found:
        hint = " (perpetual futures are not supported, only spot markets)" if name.endswith(".P") else ""
        raise AlertInvalid(f"Symbol {written!r} matches no market on this exchange{hint}")
    return found[0]


def _without_exchange_prefix(symbol: str) -> str:
    """`BINANCE:BTCUSDT` → `BTCUSDT`; a unified `BTC/USDT:USDT` keeps its settle suffix."""
    prefix, colon, rest = symbol.partition(":")
    if colon and "/" not in prefix and rest:
        return rest.strip()
    return symbol


def _separator_free_names(market: Market) -> tuple[str, str]:
    return market.id.upper().translate(_SEPARATORS), market.symbol.upper().translate(_SEPARATORS)


def _matches(name: str, markets: Iterable[Market], names_of: _NamesOf) -> list[Market]:
    """Markets one of whose names equals `name`; spot markets (no `:` settle) win over derivatives."""
    found = {market.symbol: market for market in markets if name in names_of(market)}
    spot = [market for symbol, market in found.items() if ":" not in symbol]
    return spot or list(found.values())


def amount_round(amount: Decimal, market: Market) -> Decimal:
    """Round an amount down to the market's amount step (never spend more than asked)."""
    return _to_step(amount, market.amount_step, ROUND_DOWN)


def price_round(price: Decimal, market: Market) -> Decimal:
    """Round a price to the nearest price step."""
    return _to_step(price, market.price_step, ROUND_HALF_EVEN)


def is_on_step(value: Decimal, step: Decimal) -> bool:
    """Whether `value` is a whole number of `step`s (always true for a step of zero)."""
    return step <= 0 or value % step == 0


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    steps = (value / step).to_integral_value(rounding=rounding)
    if not steps:
        return Decimal(0)
    # Keep the step's decimals (0.12487, not 0.1248700) and never an exponent (20, not 2E+1).
    return (steps * step).quantize(Decimal(1) if step == step.to_integral_value() else step)


def order_check_limits(*, amount: Decimal, price: Decimal, market: Market) -> None:
    """Raise OrderInvalid with the numbers when amount or cost is below the market minimum."""
    if amount == 0:
        raise OrderInvalid(
            f"amount rounds to zero for {market.symbol} (the amount step is {decimal_text(market.amount_step)} "
            f"{market.base})"
        )
    if amount < 0:
        raise OrderInvalid(f"amount {decimal_text(amount)} {market.base} must be positive")
    if price <= 0:
        raise OrderInvalid(f"price {decimal_text(price)} {market.quote} must be positive")
    if market.min_amount is not None and amount < market.min_amount:
        raise OrderInvalid(
            f"amount {decimal_text(amount)} {market.base} is below the minimum "
            f"{decimal_text(market.min_amount)} for {market.symbol}"
        )
    cost = amount * price
    if market.min_cost is not None and cost < market.min_cost:
        raise OrderInvalid(
            f"order value {money_text(cost)} {market.quote} is below the minimum "
            f"{decimal_text(market.min_cost)} {market.quote} for {market.symbol}"
        )


__all__ = [
    "AlertInvalid",
    "Market",
    "OrderInvalid",
    "amount_round",
    "is_on_step",
    "order_check_limits",
    "price_round",
    "symbol_resolve",
]
