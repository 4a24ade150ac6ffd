"""Redis connections from settings.REDIS_URL (sync for Django code, async for aiohttp/asyncio)."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from django.conf import settings


def redis_sync() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=30)


def redis_async() -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=30)
