"""Keeping the token index fresh: reload when the Redis version counter moves, and every minute anyway."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from apps.core.streams import TOKENS_VERSION_KEY
from apps.core.throttle import LogThrottle
from apps.webhooks.receiver.auth import LEGACY_KEY, TokenIndex
from apps.webhooks.receiver.limits import RateLimiter

logger = logging.getLogger(__name__)

TokenLoader = Callable[[], Awaitable[dict[str, int]]]


class TokenRefresher:
    """Reloads `index` through `loader` (the database, off the event loop) when told to by Redis."""

    def __init__(
        self,
        *,
        index: TokenIndex,
        limiter: RateLimiter,
        loader: TokenLoader,
        redis: aioredis.Redis,
        poll_seconds: float,
        full_reload_seconds: float,
    ) -> None:
        self._index = index
        self._limiter = limiter
        self._loader = loader
        self._redis = redis
        self._poll = poll_seconds
        self._full = full_reload_seconds
        self._version: bytes | None = None
        self._loaded_at = 0.0
        self._warn = LogThrottle(logger, every=30.0)

    async def _read_version(self) -> bytes | None:
        try:
            async with asyncio.timeout(max(self._poll, 0.2)):
                value = await self._redis.get(TOKENS_VERSION_KEY)
        except (RedisError, OSError, TimeoutError) as exc:
            self._warn.warning("cannot read the webhook token version from Redis: %s", exc)
            return self._version
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    async def load(self) -> int:
        """Load the index now (at start: errors propagate); returns how many tokens are loaded."""
        version = await self._read_version()  # read first: a bump during the load triggers another
        hashes = await self._loader()
        self._index.replace(hashes)
        self._limiter.keep_only([*hashes, LEGACY_KEY])
        self._version = version
        self._loaded_at = time.monotonic()
        return len(hashes)

    async def step(self) -> bool:
        """Reload when the version moved or the last load is old; True when a reload happened."""
        version = await self._read_version()
        if version == self._version and time.monotonic() - self._loaded_at < self._full:
            return False
        try:
            count = await self.load()
        except Exception as exc:  # the database may be restarting: keep the index we have
            self._warn.warning("cannot reload webhook tokens, keeping the %d loaded: %s", len(self._index), exc)
            return False
        logger.debug("webhook tokens reloaded: %d", count)
        return True

    async def run(self) -> None:
        """Step forever, every `poll_seconds`, until cancelled."""
        while True:
            await asyncio.sleep(self._poll)
            await self.step()
