"""The alert writer: alerts arriving together share pipelined round trips, failures answer every waiter."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from apps.core.streams import RawAlert
from apps.webhooks.receiver.store import AlertWriter, StoreUnavailable

from .helpers import closed_port, stored_alerts


def alert(n: int) -> RawAlert:
    return RawAlert(body=f'{{"N": {n}}}', received_at="2025-01-01T00:00:00+00:00", trace_id=f"t{n}", user_id=1)


async def test_burst_larger_than_the_redis_pool_is_stored_in_order(redis: aioredis.Redis) -> None:
    writer = AlertWriter(redis, maxlen=100_000)
    writer.start()
    try:
        ids = await asyncio.gather(*(writer.store(alert(n)) for n in range(600)))  # pool: 100 connections
    finally:
        await writer.stop()

    stored = await stored_alerts(redis)
    assert [a.trace_id for a in stored] == [f"t{n}" for n in range(600)]
    assert ids == sorted(ids, key=lambda entry: tuple(int(part) for part in entry.split("-")))


async def test_every_waiter_gets_store_unavailable_when_redis_is_down() -> None:
    down = aioredis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    writer = AlertWriter(down, maxlen=100)
    writer.start()
    try:
        results = await asyncio.gather(*(writer.store(alert(n)) for n in range(10)), return_exceptions=True)
    finally:
        await writer.stop()
        await down.aclose()

    assert all(isinstance(result, StoreUnavailable) for result in results)


async def test_store_after_stop_is_unavailable(redis: aioredis.Redis) -> None:
    writer = AlertWriter(redis, maxlen=100)
    writer.start()
    await writer.stop()

    with pytest.raises(StoreUnavailable):
        await writer.store(alert(1))
