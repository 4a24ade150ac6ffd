"""Markets: symbol resolution, precision and minimums."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from trading.errors import AlertInvalid, OrderInvalid


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


def symbol_resolve(raw_symbol: str, markets: Mapping[str, Market]) -> Market:
    """Find the market a TradingView symbol names, through the markets' ids, never by slicing.

    Accepts `BTCUSDT`, `BTC/USDT`, `btcusdt`, `BINANCE:BTCUSDT`, `BTCUSDT.P`-free spot forms.
    Raises AlertInvalid naming the symbol when no market matches.
    """
    raise NotImplementedError


def amount_round(amount: Decimal, market: Market) -> Decimal:
    """Round an amount down to the market's amount step (never spend more than asked)."""
    raise NotImplementedError


def price_round(price: Decimal, market: Market) -> Decimal:
    """Round a price to the nearest price step."""
    raise NotImplementedError


def order_check_limits(*, amount: Decimal, price: Decimal, market: Market) -> None:
    """Raise OrderInvalid with the numbers when amount or cost is below the market minimum."""
    raise NotImplementedError


__all__ = ["AlertInvalid", "Market", "OrderInvalid", "amount_round", "order_check_limits", "price_round", "symbol_resolve"]
