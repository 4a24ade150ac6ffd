"""The heartbeat's loop step: take the next candles from a source, at its pace, and publish
each on stream `heartbeat` and in the latest-price hash."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import redis

from apps.core.heartbeat.sources import CandleSource
from apps.core.heartbeat.status import last_candle_fields
from apps.core.heartbeat.symbols import symbols_by_exchange, symbols_in_use
from apps.core.streams import HEARTBEAT, HEARTBEAT_LAST, STREAM_MAXLEN, Candle

logger = logging.getLogger("aristobot.heartbeat")


def candle_publish(client: redis.Redis, candle: Candle, *, published_at: float | None = None) -> None:
    """One candle on the stream (capped) and as its symbol's latest price, in one round trip."""
    pipe = client.pipeline(transaction=False)
    pipe.xadd(HEARTBEAT, candle.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
    published = time.time() if published_at is None else published_at
    pipe.hset(HEARTBEAT_LAST, candle.symbol, last_candle_fields(candle, published_at=published))
    pipe.execute()


class HeartbeatPublisher:
    """`step()` publishes the next candles when they are due and returns whether it did."""

    def __init__(
        self,
        client: redis.Redis,
        source: CandleSource,
        *,
        seconds_per_candle: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = client
        self.source = source
        self.seconds_per_candle = seconds_per_candle
        self.clock = clock
        self._next_at = 0.0
        self.published = 0

    def due_in(self) -> float:
        """Seconds until the next candles are due (0 or less: now)."""
        return self._next_at - self.clock()

    def step(self) -> bool:
        if self.due_in() > 0 or self.source.exhausted:
            return False
        self._next_at = self.clock() + self.seconds_per_candle
        candles = self.source.next_candles()
        for candle in candles:
            candle_publish(self.redis, candle)
        self.published += len(candles)
        if candles:
            logger.debug("published %s", ", ".join(f"{c.symbol} {c.time} {c.close}" for c in candles))
        return bool(candles)


class SymbolsInUse:
    """The symbols that matter (database), read again at most every `refresh_seconds`."""

    def __init__(self, extra: Iterable[str] = (), *, refresh_seconds: float = 60.0, only_extra: bool = False) -> None:
        self.extra = [symbol.strip().upper() for symbol in extra if symbol.strip()]
        self.refresh_seconds = refresh_seconds
        self.only_extra = only_extra
        self._symbols: list[str] = []
        self._read_at = float("-inf")

    def __call__(self) -> list[str]:
        if not self.only_extra and time.monotonic() - self._read_at >= self.refresh_seconds:
            self._read_at = time.monotonic()
            try:
                symbols = symbols_in_use(self.extra)
            except Exception:  # the database is away: keep publishing what we had
                logger.exception("could not read the symbols in use; keeping %s", self._symbols or self.extra)
                symbols = self._symbols or self.extra
            if symbols != self._symbols:
                logger.info("heartbeat symbols: %s", ", ".join(symbols))
            self._symbols = symbols
        return self._symbols if not self.only_extra else self.extra


class SymbolsByExchange:
    """The symbols that matter per exchange in use (database), read at most every `refresh_seconds`."""

    def __init__(self, extra: Iterable[str] = (), *, paper_prices_from: str, refresh_seconds: float = 60.0) -> None:
        self.extra = [symbol.strip().upper() for symbol in extra if symbol.strip()]
        self.paper_prices_from = paper_prices_from
        self.refresh_seconds = refresh_seconds
        self._symbols: dict[str, list[str]] = {}
        self._read_at = float("-inf")

    def __call__(self) -> dict[str, list[str]]:
        if time.monotonic() - self._read_at >= self.refresh_seconds:
            self._read_at = time.monotonic()
            try:
                symbols = symbols_by_exchange(self.extra, paper_prices_from=self.paper_prices_from)
            except Exception:  # the database is away: keep publishing what we had
                logger.exception("could not read the symbols in use; keeping the last list")
                symbols = self._symbols or {self.paper_prices_from: self.extra}
            if symbols != self._symbols:
                logger.info("heartbeat symbols: %s", "; ".join(f"{k}: {', '.join(v)}" for k, v in symbols.items()))
            self._symbols = symbols
        return self._symbols
