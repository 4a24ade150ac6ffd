"""Size limit, rate limit and source address allowlist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import redis.asyncio as aioredis

from apps.webhooks.receiver.limits import AddressPolicy, RateLimiter

from .conftest import ReceiverFactory
from .helpers import ALICE_TOKEN, stored_alerts

ALERT = orjson.dumps({"Token": ALICE_TOKEN, "Symbol": "BTCUSDT", "Action": "PING"})
TRADINGVIEW = "52.89.214.238"


def body_of_size(size: int) -> bytes:
    prefix = b'{"Symbol": "BTCUSDT", "Note": "'
    return prefix + b"x" * (size - len(prefix) - 2) + b'"}'


async def test_body_of_exactly_the_limit_is_accepted(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=body_of_size(65536))

    assert response.status == 200


async def test_body_one_byte_over_64_kib_is_413_and_not_stored(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=body_of_size(65537))
        answer = await response.json()

    assert response.status == 413
    assert answer == {"status": "error", "error": "body larger than 65536 bytes"}
    assert await stored_alerts(redis) == []


async def test_chunked_body_over_the_limit_is_413_while_reading(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=chunks())

    assert response.status == 413
    assert await stored_alerts(redis) == []


async def test_rate_limit_answers_429_with_retry_after_once_the_burst_is_spent(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver(rate_limit_per_minute=60, rate_burst=3) as client:
        statuses = [(await client.post("/webhook", data=ALERT)).status for _ in range(3)]
        limited = await client.post("/webhook", data=ALERT)
        answer = await limited.json()

    assert statuses == [200, 200, 200]
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "1"
    assert answer["status"] == "error"
    assert len(await stored_alerts(redis)) == 3


async def test_rate_limit_zero_turns_it_off(receiver: ReceiverFactory) -> None:
    async with receiver(rate_limit_per_minute=0) as client:
        statuses = {(await client.post("/webhook", data=ALERT)).status for _ in range(30)}

    assert statuses == {200}


def test_token_bucket_refills_at_the_rate_per_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])

    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == 1.0  # one alert a second
    assert limiter.take("b") == 0.0  # each token its own bucket
    now[0] = 1.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0.0


async def test_allowlist_refuses_other_sources_with_403(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver(ip_allowlist=(TRADINGVIEW,)) as client:
        response = await client.post("/webhook", data=ALERT, headers={"X-Forwarded-For": TRADINGVIEW})

    assert response.status == 403  # X-Forwarded-For from an untrusted peer is ignored
    assert await stored_alerts(redis) == []


async def test_allowlist_honours_x_forwarded_for_from_a_trusted_proxy(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver(ip_allowlist=(TRADINGVIEW,), trusted_proxies=("127.0.0.1",)) as client:
        allowed = await client.post("/webhook", data=ALERT, headers={"X-Forwarded-For": f"10.9.9.9, {TRADINGVIEW}"})
        refused = await client.post("/webhook", data=ALERT, headers={"X-Forwarded-For": f"{TRADINGVIEW}, 10.9.9.9"})

    assert allowed.status == 200
    assert refused.status == 403  # the proxy saw 10.9.9.9; what that client claimed does not count
    [alert] = await stored_alerts(redis)
    assert alert.source_ip == TRADINGVIEW


async def test_allowlist_accepts_a_direct_peer_in_a_listed_network(receiver: ReceiverFactory) -> None:
    async with receiver(ip_allowlist=("127.0.0.0/8",)) as client:
        response = await client.post("/webhook", data=ALERT)

    assert response.status == 200


def test_client_ip_walks_x_forwarded_for_through_chained_trusted_proxies() -> None:
    policy = AddressPolicy(trusted_proxies=("10.0.0.0/8",))

    assert policy.client_ip("10.0.0.1", f"1.2.3.4, {TRADINGVIEW}, 10.0.0.7") == TRADINGVIEW
    assert policy.client_ip("192.0.2.1", TRADINGVIEW) == "192.0.2.1"
    assert policy.client_ip("::ffff:10.0.0.1", "garbage") == ""
