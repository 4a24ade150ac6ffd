"""Redis connections from settings.REDIS_URL (sync for Django code, async for aiohttp/asyncio).

Both survive a Redis restart: a command that meets a closed or refused connection reconnects and
is sent again, with a short exponential backoff (about 3 s in all, then the error is raised to the
caller's own retry), and a connection idle for a few seconds is checked with a PING before use,
so the first command after a restart does not fail on a connection the old server closed.
A command is re-sent only on a connection error, never on a timeout: Redis may have run it
before the connection broke, so what is sent through these clients must bear being run twice
(stream entries and replies are keyed, handlers look orders up by client order id).
"""

from __future__ import annotations

import logging

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

RETRIES = 8  # ~0.05, 0.1, 0.2, 0.4, 0.5 … s: a restarted Redis that loads its AOF is back in time
HEALTH_CHECK_SECONDS = 2


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=0.5)


def redis_sync(*, socket_timeout: float | None = None) -> redis.Redis:
    """A client of settings.REDIS_URL; `socket_timeout` bounds each command (None: no bound)."""
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=2,
        socket_timeout=socket_timeout,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=Retry(_backoff(), RETRIES, supported_errors=(redis.ConnectionError,)),
    )


def redis_async(*, socket_timeout: float | None = None) -> aioredis.Redis:
    """`redis_sync` for asyncio code."""
    return aioredis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=2,
        socket_timeout=socket_timeout,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=AsyncRetry(_backoff(), RETRIES, supported_errors=(redis.ConnectionError,)),
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
