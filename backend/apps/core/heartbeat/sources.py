"""Where heartbeat candles come from. Each source's `next_candles()` returns the next closed
1-minute candles (at most one per symbol), or nothing when none is due; `exhausted` says a
finite source (replay) has nothing more."""

from __future__ import annotations

import csv
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from apps.core.streams import Candle
from trading.errors import TemporaryError, TradingError
from trading.live.ohlcv import MINUTE_MS, OhlcvClient

logger = logging.getLogger("aristobot.heartbeat")

MINUTE = timedelta(minutes=1)
Symbols = Callable[[], list[str]]

# Where the simulated walk of a base currency starts; others start at 100.
SIM_START_PRICES = {
    "BTC": Decimal(40000),
    "ETH": Decimal(2000),
    "BNB": Decimal(300),
    "SOL": Decimal(100),
    "XRP": Decimal("0.5"),
    "ADA": Decimal("0.4"),
    "DOGE": Decimal("0.08"),
    "LTC": Decimal(70),
    "DOT": Decimal(6),
    "LINK": Decimal(15),
}


class CandleSource(Protocol):
    exhausted: bool

    def next_candles(self) -> list[Candle]: ...


def minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _price_round(value: float) -> Decimal:
    places = Decimal("0.01") if value >= 100 else Decimal("0.0001") if value >= 1 else Decimal("0.00000001")
    return Decimal(repr(value)).quantize(places)


class SimSource:
    """A deterministic, seeded random walk per symbol; each call is the next minute's candles."""

    exhausted = False

    def __init__(self, symbols: Symbols, *, seed: int = 1, start: datetime, volatility: float = 0.0015) -> None:
        self.symbols = symbols
        self.seed = seed
        self.clock = minute_floor(start)
        self.volatility = volatility
        self._walks: dict[str, tuple[random.Random, float]] = {}

    def next_candles(self) -> list[Candle]:
        at, self.clock = self.clock, self.clock + MINUTE
        return [self._candle(symbol, at) for symbol in self.symbols()]

    def _candle(self, symbol: str, at: datetime) -> Candle:
        if symbol not in self._walks:
            start = SIM_START_PRICES.get(symbol.split("/")[0].upper(), Decimal(100))
            self._walks[symbol] = (random.Random(f"{self.seed}:{symbol}"), float(start))
        rng, opened = self._walks[symbol]
        closed = opened * (1 + rng.gauss(0, self.volatility))
        high = max(opened, closed) * (1 + abs(rng.gauss(0, self.volatility / 3)))
        low = min(opened, closed) * (1 - abs(rng.gauss(0, self.volatility / 3)))
        volume = Decimal(repr(rng.uniform(1, 100))).quantize(Decimal("0.001"))
        self._walks[symbol] = (rng, closed)
        return Candle(
            "sim",
            symbol,
            at.isoformat(),
            _price_round(opened),
            _price_round(high),
            _price_round(low),
            _price_round(closed),
            volume,
        )


def _time_parse(text: str) -> datetime:
    text = text.strip()
    if text.isdigit():
        number = int(text)
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ReplaySource:
    """Candles from a CSV file (columns time,symbol,open,high,low,close,volume), one candle
    time per call; `time` is ISO 8601 (UTC when naive) or Unix seconds or milliseconds."""

    def __init__(self, path: str | Path, *, exchange: str = "replay") -> None:
        self.path = Path(path)
        self.exchange = exchange
        self._groups = self._read()
        self.exhausted = False

    def _read(self) -> Iterator[list[Candle]]:
        with self.path.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("time")]
        candles = [
            Candle(
                self.exchange,
                row["symbol"].strip(),
                _time_parse(row["time"]).isoformat(),
                Decimal(row["open"]),
                Decimal(row["high"]),
                Decimal(row["low"]),
                Decimal(row["close"]),
                Decimal(row.get("volume") or 0),
            )
            for row in rows
        ]
        candles.sort(key=lambda candle: candle.time)  # stable: file order within one time
        group: list[Candle] = []
        for candle in candles:
            if group and group[0].time != candle.time:
                yield group
                group = []
            group.append(candle)
        if group:
            yield group

    def next_candles(self) -> list[Candle]:
        group = next(self._groups, None)
        if group is None:
            self.exhausted = True
            return []
        return group


class CcxtSource:
    """Closed public 1-minute candles of the symbols that matter, polled through ccxt; network
    trouble backs off per symbol and is never fatal."""

    exhausted = False

    def __init__(
        self,
        client: OhlcvClient,
        symbols: Symbols,
        *,
        now: Callable[[], float] = time.time,
        backoff_start: float = 5.0,
        backoff_max: float = 300.0,
    ) -> None:
        self.client = client
        self.symbols = symbols
        self.now = now
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self._last_ms: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        self._backoff: dict[str, float] = {}

    def next_candles(self) -> list[Candle]:
        candles: list[Candle] = []
        for symbol in self.symbols():
            if self.now() < self._retry_at.get(symbol, 0.0):
                continue
            try:
                candles += self._symbol_candles(symbol)
            except TradingError as exc:
                if isinstance(exc, TemporaryError):  # doubling backoff, at least what the exchange asked
                    doubled = self._backoff.get(symbol, self.backoff_start / 2) * 2
                    delay = min(self.backoff_max, max(doubled, exc.retry_after or 0))
                else:  # e.g. a symbol this exchange does not list: try again much later
                    delay = self.backoff_max
                self._backoff[symbol] = delay
                self._retry_at[symbol] = self.now() + delay
                logger.warning("%s %s: %s; next try in %.0f s", self.client.exchange_id, symbol, exc, delay)
                continue
            self._backoff.pop(symbol, None)
        return candles

    def _symbol_candles(self, symbol: str) -> list[Candle]:
        now_ms = int(self.now() * 1000)
        # First time: only the last closed candle, no history.
        since = self._last_ms.get(symbol, (now_ms // MINUTE_MS - 2) * MINUTE_MS - MINUTE_MS) + MINUTE_MS
        rows = self.client.closed_candles(symbol, since_ms=since, now_ms=now_ms)
        if symbol not in self._last_ms:
            rows = rows[-1:]
        if rows:
            self._last_ms[symbol] = rows[-1].time_ms
        return [
            Candle(
                self.client.exchange_id,
                symbol,
                datetime.fromtimestamp(row.time_ms / 1000, tz=UTC).isoformat(),
                row.open,
                row.high,
                row.low,
                row.close,
                row.volume,
            )
            for row in rows
        ]


class MultiCcxtSource:
    """One CcxtSource per exchange in use (each with its own client and rate limiter)."""

    exhausted = False

    def __init__(
        self,
        symbols_by_exchange: Callable[[], dict[str, list[str]]],
        *,
        client_for: Callable[[str], OhlcvClient] = OhlcvClient,
    ) -> None:
        self.symbols_by_exchange = symbols_by_exchange
        self.client_for = client_for
        self.sources: dict[str, CcxtSource] = {}
        self._unusable: set[str] = set()

    def next_candles(self) -> list[Candle]:
        wanted = self.symbols_by_exchange()
        candles: list[Candle] = []
        for exchange_id in wanted:
            source = self._source(exchange_id, wanted)
            if source is not None:
                candles += source.next_candles()
        return candles

    def _source(self, exchange_id: str, wanted: dict[str, list[str]]) -> CcxtSource | None:
        if exchange_id in self._unusable:
            return None
        if exchange_id not in self.sources:
            try:
                client = self.client_for(exchange_id)
            except TradingError as exc:
                logger.error("heartbeat: no candles from %s: %s", exchange_id, exc)
                self._unusable.add(exchange_id)
                return None
            self.sources[exchange_id] = CcxtSource(client, list)
        source = self.sources[exchange_id]
        source.symbols = lambda: wanted.get(exchange_id, [])
        return source
