"""Hostile requests against the receiver served as in production: no 5xx but 503, every 200 stored, no token stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings

from apps.core.streams import WEBHOOK_RAW, RawAlert
from apps.webhooks.receiver.body import MAX_NESTING, nesting_depth
from trading.alerts import payload_parse

from .conftest import ServedFactory
from .helpers import ALICE_ID, ALICE_TOKEN
from .hostile import HostileRequest, hostile_requests, secret_keys


@pytest.fixture
async def receiver_url(served: ServedFactory) -> AsyncIterator[str]:
    async with served() as receiver:
        yield f"http://127.0.0.1:{receiver.port}"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def last_stored(redis: aioredis.Redis) -> RawAlert | None:
    """The newest entry of the stream (the requests are sent one at a time)."""
    entries = await redis.xrevrange(WEBHOOK_RAW, count=1)
    return RawAlert.from_fields(entries[0][1] or {}) if entries else None


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=hostile_requests(ALICE_TOKEN))
async def test_hostile_requests_get_no_5xx_and_every_accepted_body_is_stored_without_the_token(
    receiver_url: str, session: aiohttp.ClientSession, redis: aioredis.Redis, request: HostileRequest
) -> None:
    before = await last_stored(redis)
    async with session.post(receiver_url + request.path, data=request.body, headers=request.headers) as response:
        answer = await response.read()
    after = await last_stored(redis)

    assert response.status < 500, answer  # Redis is up: not even 503
    if after is not None and after != before:
        assert ALICE_TOKEN not in after.body
        assert after.user_id == ALICE_ID
    if response.status != 200:
        return
    assert after is not None and after != before, "answered 200 but nothing stored"
    alert = after
    assert alert.trace_id == orjson.loads(answer)["trace_id"] and alert.rejected == ""
    payload = payload_parse(alert.body)  # the engine reads it back
    assert secret_keys(payload) == []
    assert nesting_depth(payload) <= MAX_NESTING
