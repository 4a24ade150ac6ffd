"""POST /webhook: authentication, body handling, and what reaches the `webhook_raw` stream."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as aioredis

from .conftest import ReceiverFactory
from .helpers import ALICE_ID, ALICE_TOKEN, LEGACY_TOKEN, stored_alerts

ALERT = {"Symbol": "BTCUSDT", "Action": "BuyMarket", "PourCent": 50, "Prix": 65000.5, "UserExchangeID": 3}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


async def test_text_plain_body_with_token_is_stored_without_it_and_answered_with_a_trace_id(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", data=orjson.dumps({"Token": ALICE_TOKEN, **ALERT}), headers=TEXT)
        answer = await response.json()

    assert response.status == 200
    assert answer["status"] == "received"
    [alert] = await stored_alerts(redis)
    assert alert.trace_id == answer["trace_id"] and len(alert.trace_id) == 32
    assert alert.user_id == ALICE_ID
    assert orjson.loads(alert.body) == ALERT
    assert ALICE_TOKEN not in alert.body and "Token" not in alert.body
    assert alert.received_at.endswith("+00:00")
    assert alert.source_ip == "127.0.0.1"
    assert alert.rejected == ""


async def test_token_in_path_stores_the_body_exactly_as_received(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    body = '{ "Symbol" : "ETHUSDT", "Action": "SellMarket", "Prix": 3000.10 }'
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=body, headers=TEXT)

    assert response.status == 200
    [alert] = await stored_alerts(redis)
    assert alert.body == body
    assert alert.user_id == ALICE_ID


async def test_token_in_header_is_accepted_with_a_json_content_type(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", json=ALERT, headers={"X-Webhook-Token": ALICE_TOKEN})

    assert response.status == 200
    [alert] = await stored_alerts(redis)
    assert alert.user_id == ALICE_ID


async def test_token_repeated_in_the_body_is_removed_even_when_the_path_authenticates(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=orjson.dumps({**ALERT, "Token": ALICE_TOKEN}))

    assert response.status == 200
    [alert] = await stored_alerts(redis)
    assert ALICE_TOKEN not in alert.body
    assert orjson.loads(alert.body) == ALERT


@pytest.mark.parametrize("where", ["body", "path", "header"])
async def test_wrong_token_is_401_and_not_stored(receiver: ReceiverFactory, redis: aioredis.Redis, where: str) -> None:
    wrong = "abt_not-a-token-of-anyone"
    async with receiver() as client:
        if where == "body":
            response = await client.post("/webhook", data=orjson.dumps({"Token": wrong, **ALERT}))
        elif where == "path":
            response = await client.post(f"/webhook/{wrong}", data=orjson.dumps(ALERT))
        else:
            response = await client.post("/webhook", data=orjson.dumps(ALERT), headers={"X-Webhook-Token": wrong})
        answer = await response.json()

    assert response.status == 401
    assert answer == {"status": "error", "error": "invalid token"}
    assert await stored_alerts(redis) == []


@pytest.mark.parametrize("token", [None, "", 12345])
async def test_missing_token_is_401_and_not_stored(
    receiver: ReceiverFactory, redis: aioredis.Redis, token: object
) -> None:
    body = ALERT if token is None else {"Token": token, **ALERT}
    async with receiver() as client:
        response = await client.post("/webhook", data=orjson.dumps(body))
        answer = await response.json()

    assert response.status == 401
    assert answer == {"status": "error", "error": "missing token"}
    assert await stored_alerts(redis) == []


async def test_legacy_token_is_accepted_and_leaves_the_user_to_the_body_user_id(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver(legacy_token=LEGACY_TOKEN) as client:
        response = await client.post("/webhook", data=orjson.dumps({"Token": LEGACY_TOKEN, "UserID": 7, **ALERT}))
        near_miss = await client.post("/webhook", data=orjson.dumps({"Token": LEGACY_TOKEN + "x", **ALERT}))

    assert response.status == 200
    assert near_miss.status == 401
    [alert] = await stored_alerts(redis)
    assert alert.user_id is None
    assert orjson.loads(alert.body) == {"UserID": 7, **ALERT}
    assert LEGACY_TOKEN not in alert.body


async def test_legacy_token_is_refused_when_not_configured(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", data=orjson.dumps({"Token": LEGACY_TOKEN, **ALERT}))

    assert response.status == 401


async def test_bad_json_with_a_path_token_is_400_and_recorded_as_rejected_without_the_token(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    body = f'{{"Token": "{ALICE_TOKEN}", "Action": BuyMarket}}'
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=body, headers=TEXT)
        answer = await response.json()

    assert response.status == 400
    assert answer["status"] == "error"
    assert answer["error"].startswith("body is not valid JSON: ")
    [alert] = await stored_alerts(redis)
    assert alert.trace_id == answer["trace_id"]
    assert alert.user_id == ALICE_ID
    assert alert.rejected == answer["error"]
    assert ALICE_TOKEN not in alert.body
    assert "BuyMarket" in alert.body


async def test_body_that_is_not_an_object_is_400_and_recorded_when_the_sender_is_known(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", data="[1, 2]", headers={"X-Webhook-Token": ALICE_TOKEN})

    assert response.status == 400
    [alert] = await stored_alerts(redis)
    assert alert.rejected == "body must be a JSON object, got an array"
    assert alert.body == "[1, 2]"


async def test_body_that_is_not_utf8_is_400_and_recorded_with_replacement_characters(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=b'{"Action": "\xff"}')

    assert response.status == 400
    [alert] = await stored_alerts(redis)
    assert alert.body == '{"Action": "\ufffd"}'


async def test_bad_json_without_a_token_elsewhere_is_400_and_not_stored(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", data=f'{{"Token": "{ALICE_TOKEN}", oops', headers=TEXT)
        answer = await response.json()

    assert response.status == 400
    assert answer["error"].startswith("body is not valid JSON")
    assert await stored_alerts(redis) == []


async def test_wrong_path_token_with_bad_json_is_401_not_recorded(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook/abt_wrong", data="not json")

    assert response.status == 401
    assert await stored_alerts(redis) == []


async def test_get_on_webhook_is_not_allowed(receiver: ReceiverFactory) -> None:
    async with receiver() as client:
        response = await client.get(f"/webhook/{ALICE_TOKEN}")

    assert response.status == 405


async def test_concurrent_alerts_are_all_stored(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver(rate_limit_per_minute=0) as client:
        responses = await asyncio.gather(
            *(client.post(f"/webhook/{ALICE_TOKEN}", data=orjson.dumps({**ALERT, "N": n})) for n in range(40))
        )
        answers = [await response.json() for response in responses]

    assert {response.status for response in responses} == {200}
    stored = await stored_alerts(redis)
    assert {alert.trace_id for alert in stored} == {answer["trace_id"] for answer in answers}
