"""Receiver fixtures: a Redis client on the test Redis and a factory of aiohttp test clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from apps.webhooks.receiver import ReceiverConfig, build_app
from apps.webhooks.receiver.refresh import TokenLoader

from .helpers import ALICE_ID, ALICE_TOKEN, static_tokens

ReceiverFactory = Callable[..., AbstractAsyncContextManager[TestClient[Any, Any]]]


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
