"""ccxt's unified structures (markets, orders, balances) as domain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading.markets import Market
from trading.numbers import decimal_from
from trading.orders import Balance, OrderSide, OrderState, OrderStatus, OrderType

# ccxt.base.decimal_to_precision constants, repeated to keep ccxt out of this module.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4


def _step(value: Any, precision_mode: int) -> Decimal:
    number = decimal_from(value)
    if number is None or number <= 0:
        return Decimal("1e-8")
    if precision_mode == TICK_SIZE:
        return number
    return Decimal(1).scaleb(-int(number))  # decimal places (significant digits read the same way)


def market_from_ccxt(raw: dict[str, Any], *, precision_mode: int) -> Market:
    limits = raw.get("limits") or {}
    precision = raw.get("precision") or {}
    return Market(
        symbol=raw["symbol"],
        id=str(raw["id"]),
        base=raw["base"],
        quote=raw["quote"],
        amount_step=_step(precision.get("amount"), precision_mode),
        price_step=_step(precision.get("price"), precision_mode),
        min_amount=decimal_from((limits.get("amount") or {}).get("min")),
        min_cost=decimal_from((limits.get("cost") or {}).get("min")),
        taker_fee=decimal_from(raw.get("taker")) or Decimal("0.001"),
    )


def markets_from_ccxt(markets: dict[str, dict[str, Any]], *, precision_mode: int) -> dict[str, Market]:
    """Active spot markets only: Aristobot trades spot positions."""
    return {
        symbol: market_from_ccxt(raw, precision_mode=precision_mode)
        for symbol, raw in markets.items()
        if raw.get("spot") and raw.get("active") is not False
    }


_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def _order_type(raw: dict[str, Any]) -> OrderType:
    info_type = str((raw.get("info") or {}).get("type") or "").upper()
    if raw.get("stopLossPrice") or info_type in {"STOP_LOSS", "STOP_LOSS_LIMIT"}:
        return OrderType.STOP_MARKET
    if raw.get("takeProfitPrice") or info_type in {"TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"}:
        return OrderType.TAKE_PROFIT_LIMIT
    return OrderType.MARKET if raw.get("type") == "market" else OrderType.LIMIT


def _fees(raw: dict[str, Any], market: Market, average: Decimal | None) -> tuple[Decimal, Decimal, str | None]:
    """(fee in quote, part of it paid in the base currency, currency as the exchange said)."""
    fees = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
    in_quote = Decimal(0)
    in_base = Decimal(0)
    currency = None
    for fee in fees:
        cost = decimal_from(fee.get("cost")) or Decimal(0)
        currency = fee.get("currency") or currency
        if currency == market.quote:
            in_quote += cost
        elif currency == market.base:
            in_base += cost
            in_quote += cost * (average or Decimal(0))
    return in_quote, in_base, currency


def order_from_ccxt(raw: dict[str, Any], market: Market) -> OrderState:
    amount = decimal_from(raw.get("amount")) or Decimal(0)
    filled = decimal_from(raw.get("filled")) or Decimal(0)
    status = _STATUS.get(str(raw.get("status") or "open"), OrderStatus.OPEN)
    if status is OrderStatus.FILLED and filled < amount:
        status = OrderStatus.CANCELED  # closed with a partial fill
    average = decimal_from(raw.get("average"))
    if average is None and filled > 0:
        cost = decimal_from(raw.get("cost"))
        average = cost / filled if cost else decimal_from(raw.get("price"))
    fee, fee_base, fee_currency = _fees(raw, market, average)
    return OrderState(
        id=str(raw.get("id") or ""),
        client_order_id=str(raw.get("clientOrderId") or ""),
        symbol=raw.get("symbol") or market.symbol,
        side=OrderSide(str(raw.get("side") or "buy").lower()),
        type=_order_type(raw),
        status=status,
        amount=amount,
        filled=filled,
        price=decimal_from(raw.get("price")),
        stop_price=decimal_from(raw.get("triggerPrice") or raw.get("stopPrice") or raw.get("stopLossPrice")),
        average=average,
        fee=fee,
        fee_base=fee_base,
        fee_currency=fee_currency,
        timestamp_ms=raw.get("timestamp"),
        raw={key: value for key, value in (raw.get("info") or {}).items() if isinstance(value, str | int | float)},
    )


def balance_from_ccxt(raw: dict[str, Any]) -> Balance:
    free = {c: decimal_from(v) or Decimal(0) for c, v in (raw.get("free") or {}).items() if v is not None}
    total = {c: decimal_from(v) or Decimal(0) for c, v in (raw.get("total") or {}).items() if v is not None}
    return Balance(free=free, total=total)


def urls_rebased(urls: Any, base_url: str) -> Any:
    """ccxt's `urls['api']` with every address moved to `base_url`, keeping each path."""
    from urllib.parse import urlsplit, urlunsplit

    target = urlsplit(base_url.rstrip("/"))
    if isinstance(urls, dict):
        return {key: urls_rebased(value, base_url) for key, value in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, target.path + parts.path, parts.query, parts.fragment))
    return urls
