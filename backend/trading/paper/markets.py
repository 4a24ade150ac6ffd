"""The paper exchange's markets: common Binance spot USDT pairs with Binance's steps and minimums.

Steps are Binance's `tickSize` (price) and `stepSize` (amount) filters; Binance revises them
now and then, so they are realistic rather than exact. Every pair needs an order value of at
least 5 USDT (Binance's NOTIONAL filter) and charges a 0.1% taker fee.
"""

from __future__ import annotations

from decimal import Decimal

from trading.markets import Market

QUOTE = "USDT"
MIN_COST = Decimal(5)
TAKER_FEE = Decimal("0.001")

# base, price step, amount step (the minimum amount equals the amount step, as on Binance)
_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("BTC", "0.01", "0.00001"),
    ("ETH", "0.01", "0.0001"),
    ("BNB", "0.01", "0.001"),
    ("SOL", "0.01", "0.001"),
    ("XRP", "0.0001", "0.1"),
    ("ADA", "0.0001", "0.1"),
    ("DOGE", "0.00001", "1"),
    ("TRX", "0.0001", "0.1"),
    ("DOT", "0.001", "0.01"),
    ("LINK", "0.01", "0.01"),
    ("AVAX", "0.01", "0.01"),
    ("LTC", "0.01", "0.001"),
    ("BCH", "0.1", "0.001"),
    ("POL", "0.0001", "0.1"),
    ("ATOM", "0.001", "0.01"),
    ("UNI", "0.001", "0.01"),
    ("ETC", "0.01", "0.01"),
    ("XLM", "0.0001", "1"),
    ("NEAR", "0.001", "0.1"),
    ("FIL", "0.001", "0.01"),
    ("APT", "0.001", "0.01"),
    ("ARB", "0.0001", "0.1"),
    ("OP", "0.001", "0.01"),
    ("INJ", "0.01", "0.01"),
    ("SUI", "0.0001", "0.1"),
    ("SEI", "0.0001", "0.1"),
    ("TIA", "0.001", "0.01"),
    ("AAVE", "0.01", "0.001"),
    ("MKR", "0.1", "0.0001"),
    ("SHIB", "0.00000001", "1"),
    ("PEPE", "0.00000001", "1"),
    ("BONK", "0.00000001", "1"),
    ("FLOKI", "0.00000001", "1"),
    ("TON", "0.001", "0.01"),
    ("WIF", "0.001", "0.01"),
    ("FET", "0.001", "0.1"),
    ("RENDER", "0.001", "0.01"),
    ("ICP", "0.001", "0.01"),
    ("HBAR", "0.00001", "1"),
    ("VET", "0.00001", "0.1"),
    ("ALGO", "0.0001", "1"),
    ("GRT", "0.0001", "1"),
    ("SAND", "0.0001", "1"),
    ("MANA", "0.0001", "1"),
    ("AXS", "0.001", "0.01"),
    ("EGLD", "0.01", "0.01"),
    ("THETA", "0.001", "0.1"),
    ("RUNE", "0.001", "0.1"),
    ("LDO", "0.001", "0.01"),
    ("CRV", "0.001", "0.1"),
    ("STX", "0.0001", "0.1"),
    ("IMX", "0.001", "0.01"),
    ("JUP", "0.0001", "0.1"),
    ("ENA", "0.0001", "0.01"),
    ("WLD", "0.001", "0.1"),
    ("ORDI", "0.01", "0.01"),
    ("GALA", "0.00001", "1"),
    ("TAO", "0.1", "0.0001"),
    ("PENDLE", "0.001", "0.01"),
    ("XTZ", "0.001", "0.1"),
    ("USDC", "0.0001", "1"),
)


def _market(base: str, price_step: str, amount_step: str) -> Market:
    return Market(
        symbol=f"{base}/{QUOTE}",
        id=f"{base}{QUOTE}",
        base=base,
        quote=QUOTE,
        amount_step=Decimal(amount_step),
        price_step=Decimal(price_step),
        min_amount=Decimal(amount_step),
        min_cost=MIN_COST,
        taker_fee=TAKER_FEE,
    )


PAPER_MARKETS: dict[str, Market] = {market.symbol: market for market in (_market(*pair) for pair in _PAIRS)}
