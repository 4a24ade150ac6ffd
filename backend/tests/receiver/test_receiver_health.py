"""GET /health, and answers when Redis is down."""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis

from .conftest import ReceiverFactory
from .helpers import ALICE_TOKEN, closed_port

ALERT = orjson.dumps({"Token": ALICE_TOKEN, "Symbol": "BTCUSDT", "Action": "PING"})


async def test_health_reports_counters_tokens_and_redis(receiver: ReceiverFactory) -> None:
    async with receiver() as client:
        await client.post("/webhook", data=ALERT)
        await client.post("/webhook", data=b'{"Action": "PING"}')
        await client.post("/webhook", data=b"nope")
        response = await client.get("/health")
        health = await response.json()

    assert response.status == 200
    assert health["status"] == "ok"
    assert health["redis_reachable"] is True
    assert health["received"] == 1
    assert health["rejected"] == 2
    assert health["rejected_by_reason"]["unauthorized"] == 1
    assert health["rejected_by_reason"]["bad_body"] == 1
    assert health["tokens_loaded"] == 1
    assert health["last_alert_at"].endswith("+00:00")
    assert health["uptime_seconds"] >= 0


async def test_redis_down_answers_503_never_200(receiver: ReceiverFactory) -> None:
    down = aioredis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5)
    try:
        async with receiver(client_redis=down) as client:
            response = await client.post("/webhook", data=ALERT)
            answer = await response.json()
            health = await client.get("/health")
            state = await health.json()
    finally:
        await down.aclose()

    assert response.status == 503
    assert answer == {"status": "error", "error": "alert store unavailable"}
    assert health.status == 503
    assert state["redis_reachable"] is False
    assert state["received"] == 0
    assert state["rejected_by_reason"]["store_unavailable"] == 1
