"""Receiver fixtures: a Redis client on the test Redis, aiohttp test clients, and a receiver served as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from apps.webhooks.receiver import ReceiverConfig, build_app
from apps.webhooks.receiver.app import GUARD
from apps.webhooks.receiver.connections import ConnectionGuard
from apps.webhooks.receiver.refresh import TokenLoader
from apps.webhooks.receiver.runner import GuardedSite, receiver_runner

from .helpers import ALICE_ID, ALICE_TOKEN, static_tokens

ReceiverFactory = Callable[..., AbstractAsyncContextManager[TestClient[Any, Any]]]
ServedFactory = Callable[..., AbstractAsyncContextManager["Served"]]


@dataclass(frozen=True)
class Served:
    """A receiver listening on a real port with the production runner (timeouts, connection cap)."""

    port: int
    guard: ConnectionGuard


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An async client on the test Redis (emptied before each test)."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def receiver(redis: aioredis.Redis) -> ReceiverFactory:
    """`async with receiver(**config) as client`: a running receiver app and a client to it."""

    @asynccontextmanager
    async def start(
        *, client_redis: aioredis.Redis | None = None, loader: TokenLoader | None = None, **config: Any
    ) -> AsyncIterator[TestClient[Any, Any]]:
        app = build_app(
            redis=client_redis or redis,
            config=ReceiverConfig(**config),
            token_loader=loader or static_tokens({ALICE_TOKEN: ALICE_ID}),
        )
        async with TestClient(TestServer(app)) as client:
            yield client

    return start


@pytest.fixture
def served(redis: aioredis.Redis) -> ServedFactory:
    """`async with served(**config) as receiver`: the receiver as `run_webhook_receiver` serves it, on a free port."""

    @asynccontextmanager
    async def start(**config: Any) -> AsyncIterator[Served]:
        settings = ReceiverConfig(**{"rate_limit_per_minute": 0, **config})
        app = build_app(redis=redis, config=settings, token_loader=static_tokens({ALICE_TOKEN: ALICE_ID}))
        runner = receiver_runner(app, settings, shutdown_timeout=1.0)
        await runner.setup()
        site = GuardedSite(runner, "127.0.0.1", 0, guard=app[GUARD], backlog=1024)
        await site.start()
        try:
            yield Served(site.port, app[GUARD])
        finally:
            await runner.cleanup()

    return start
