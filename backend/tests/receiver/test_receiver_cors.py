"""The dashboard's "send a test alert" posts from the browser: preflight and readable answers."""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis

from .conftest import ReceiverFactory
from .helpers import ALICE_TOKEN, stored_alerts

DASHBOARD = "http://localhost:8000"
PING = {"Symbol": "BTCUSDT", "Action": "PING", "UserExchangeID": "1"}


async def test_preflight_for_a_json_post_is_allowed_from_any_origin(receiver: ReceiverFactory) -> None:
    async with receiver() as client:
        response = await client.options(
            f"/webhook/{ALICE_TOKEN}",
            headers={
                "Origin": DASHBOARD,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


async def test_preflight_stores_nothing(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver() as client:
        response = await client.options("/webhook", headers={"Origin": DASHBOARD})

    assert response.status == 204
    assert await stored_alerts(redis) == []


async def test_browser_post_gets_an_answer_it_may_read(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver() as client:
        response = await client.post(
            f"/webhook/{ALICE_TOKEN}",
            data=orjson.dumps(PING),
            headers={"Origin": DASHBOARD, "Content-Type": "application/json"},
        )

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert len(await stored_alerts(redis)) == 1


async def test_refused_token_answer_is_readable_too(receiver: ReceiverFactory) -> None:
    async with receiver() as client:
        response = await client.post("/webhook/abt_wrong", data=orjson.dumps(PING), headers={"Origin": DASHBOARD})

    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_health_is_not_opened_to_other_origins(receiver: ReceiverFactory) -> None:
    async with receiver() as client:
        response = await client.get("/health", headers={"Origin": DASHBOARD})

    assert "Access-Control-Allow-Origin" not in response.headers
