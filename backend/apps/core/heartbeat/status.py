"""The heartbeat's latest candle per symbol, kept in a Redis hash any process can read."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis

from apps.core.streams import HEARTBEAT_LAST, Candle, json_dumps


@dataclass(frozen=True)
class LastCandle:
    """What the heartbeat last published for one symbol."""

    symbol: str
    exchange: str
    time: datetime  # open time of the candle (the market clock is this plus one minute)
    close: Decimal
    published_at: float  # Unix time the heartbeat published it (wall clock)

    def age_seconds(self, now: float | None = None) -> float:
        """Seconds since it was published: how stale the prices are, whatever the candle clock says."""
        return (time.time() if now is None else now) - self.published_at


def last_candle_fields(candle: Candle, *, published_at: float) -> str:
    """The hash value stored for a candle's symbol."""
    return json_dumps(
        {"exchange": candle.exchange, "time": candle.time, "close": candle.close, "published_at": published_at}
    )


def heartbeat_last(client: redis.Redis) -> dict[str, LastCandle]:
    """Latest candle per symbol, as the heartbeat published it."""
    raw: Any = client.hgetall(HEARTBEAT_LAST)
    return heartbeat_last_parse(raw)


def heartbeat_last_parse(raw: dict[Any, Any] | None) -> dict[str, LastCandle]:
    """The `heartbeat:last` hash as read (HGETALL), parsed; unreadable members are skipped."""
    result = {}
    for key, value in (raw or {}).items():
        symbol = key.decode() if isinstance(key, bytes) else str(key)
        try:
            data = json.loads(value)
            result[symbol] = LastCandle(
                symbol=symbol,
                exchange=str(data.get("exchange", "")),
                time=datetime.fromisoformat(data["time"]),
                close=Decimal(str(data["close"])),
                published_at=float(data.get("published_at") or 0),
            )
        except (ValueError, KeyError, TypeError):
            continue
    return result
