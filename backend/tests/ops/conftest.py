"""Operator's view fixtures: a Redis with fake liveness records and real streams, metrics reset."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis

from apps.core.liveness import PROCS_INDEX, Liveness
from apps.core.metrics import PROCESS_METRICS
from apps.core.streams import ENGINE_GROUP, HEARTBEAT_LAST, WEBHOOK_RAW
from tests.engine.conftest import (  # noqa: F401 - fixtures for the engine path
    alerts,
    engine,
    gateway,
    gateway_service,
    paper_broker,
)

ALL = ("web", "receiver", "engine", "gateway", "heartbeat")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    """This process's gathered metrics start and end empty (they are process-global)."""
    PROCESS_METRICS.drain()
    yield
    PROCESS_METRICS.drain()


def process_record(
    client: redis.Redis, name: str, *, alive: bool = True, pid: int = 100, activity_ago: float | None = 3.0
) -> Liveness:
    """A liveness record as a process writes it; `alive=False` leaves only its last record in `procs`."""
    liveness = Liveness(name, host="box", pid=pid)
    if activity_ago is not None:
        liveness.last_activity = time.time() - activity_ago
    record = liveness.record()
    if alive:
        client.hset(liveness.key, mapping=record)  # type: ignore[arg-type]
        client.expire(liveness.key, 20)
    client.hset(PROCS_INDEX, liveness.key, json.dumps(record))
    return liveness


def healthy_stack(client: redis.Redis) -> None:
    """Every process alive, a fresh candle, an engine group that keeps up with webhook_raw."""
    for pid, name in enumerate(ALL, start=100):
        process_record(client, name, pid=pid)
    client.hset(
        HEARTBEAT_LAST,
        "BTC/USDT",
        json.dumps(
            {
                "exchange": "paper",
                "time": "2026-01-01T00:00:00+00:00",
                "close": "40000",
                "published_at": time.time() - 5,
            }
        ),
    )
    client.xgroup_create(WEBHOOK_RAW, ENGINE_GROUP, id="0", mkstream=True)
