"""Making an alert durable: one XADD to `webhook_raw`, the only Redis round trip of an alert."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from apps.core.streams import WEBHOOK_RAW, RawAlert


class StoreUnavailable(Exception):
    """Redis did not take the alert: answer 503 so TradingView resends it."""


async def alert_store(redis: aioredis.Redis, alert: RawAlert, *, maxlen: int) -> str:
    """XADD the alert (stream trimmed approximately to `maxlen`); returns the entry id."""
    try:
        entry_id = await redis.xadd(WEBHOOK_RAW, alert.to_fields(), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    except (TimeoutError, RedisError, OSError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def redis_reachable(redis: aioredis.Redis, *, within: float) -> bool:
    """True when Redis answers PING within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            return bool(await redis.ping())
    except (RedisError, OSError, TimeoutError):
        return False
