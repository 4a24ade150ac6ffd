"""Redis connections from settings.REDIS_URL (sync for Django code, async for aiohttp/asyncio)."""

from __future__ import annotations

import logging

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)


def redis_sync(*, socket_timeout: float | None = None) -> redis.Redis:
    """A client of settings.REDIS_URL; `socket_timeout` bounds each command (None: no bound)."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=socket_timeout, health_check_interval=30
    )


def redis_async(*, socket_timeout: float | None = None) -> aioredis.Redis:
    """`redis_sync` for asyncio code."""
    return aioredis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=socket_timeout, health_check_interval=30
    )


def version_bump(key: str, *, failure: str) -> bool:
    """Increment a version counter that other processes watch; a Redis failure is logged with
    `failure` (what the watchers miss and how they catch up), never raised."""
    client = redis_sync()
    try:
        client.incr(key)
        return True
    except redis.RedisError as exc:
        logger.warning("%s (Redis: %s)", failure, exc)
        return False
    finally:
        client.close()
