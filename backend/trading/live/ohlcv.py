"""Public 1-minute candles from an exchange through ccxt, for the heartbeat's `ccxt` source.

No API key: only public market data. ccxt's own rate limiter spaces the requests; its errors
come back as domain errors (TemporaryError for network trouble, to retry with backoff). ccxt is
imported only when a client is made, so a heartbeat on simulated or replayed prices never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trading.errors import ConfigurationError

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Ohlcv:
    """One closed 1-minute candle; `time_ms` is its open time."""

    symbol: str
    time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class OhlcvClient:
    """Closed 1-minute candles of one exchange. `exchange` may be any object with ccxt's
    `fetch_ohlcv` (a fake in tests)."""

    def __init__(self, exchange_id: str, *, exchange: Any = None, timeout_seconds: int = 10) -> None:
        self.exchange_id = exchange_id
        if exchange is None:
            import ccxt

            if exchange_id not in ccxt.exchanges:
                raise ConfigurationError(f"ccxt has no exchange {exchange_id!r}")
            exchange = getattr(ccxt, exchange_id)({"enableRateLimit": True, "timeout": timeout_seconds * 1000})
        self.exchange = exchange

    def closed_candles(self, symbol: str, *, since_ms: int, now_ms: int) -> list[Ohlcv]:
        """Candles opened at or after `since_ms` that have closed by `now_ms`, oldest first."""
        try:
            rows = self.exchange.fetch_ohlcv(symbol, "1m", since=since_ms, limit=500)
        except Exception as exc:
            from trading.live.errors import ccxt_error

            raise ccxt_error(exc, broker_label=self.exchange_id) from exc
        candles = []
        for row in rows or []:
            time_ms = int(row[0])
            if time_ms < since_ms or time_ms + MINUTE_MS > now_ms or None in row[1:5]:
                continue
            opened, high, low, closed = (Decimal(str(value)) for value in row[1:5])
            volume = Decimal(str(row[5])) if len(row) > 5 and row[5] is not None else Decimal(0)
            candles.append(Ohlcv(symbol, time_ms, opened, high, low, closed, volume))
        return sorted(candles, key=lambda candle: candle.time_ms)
