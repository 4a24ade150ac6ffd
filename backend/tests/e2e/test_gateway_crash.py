"""A real gateway killed with SIGKILL: what the paper exchange answered survives the next
instant, and requests delivered to it and never answered are answered after its restart."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from apps.core.streams import EXCHANGE_REQUESTS, GATEWAY_GROUP, GatewayOp, GatewayReply, GatewayRequest
from tests.e2e.stack import Database, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway_stack(tmp_path: Path, redis_server_url: str) -> Iterator[Stack]:
    """The gateway alone (the test plays the engine), with a paper broker in its database."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    database = Database(tmp_path)
    stack = Stack(tmp=tmp_path, redis_url=redis_server_url, database=database)
    try:
        stack.manage("migrate", "--noinput")
        seeded = stack.manage("seed_demo")
        stack.broker_id = int(re.search(r"paper broker 'Paper' \(id (\d+)\)", seeded).group(1))  # type: ignore[attr-defined, union-attr]
        stack.start("gateway")
        yield stack
    finally:
        stack.stop()
        database.drop()


def _request(broker_id: int, op: GatewayOp, params: dict[str, Any], *, deadline_s: float = 20) -> GatewayRequest:
    return GatewayRequest(
        request_id=uuid.uuid4().hex,
        op=op,
        broker_id=broker_id,
        params=params,
        deadline_ms=int((time.time() + deadline_s) * 1000),
    )


def _buy(broker_id: int, client_order_id: str, amount: str, **kwargs: float) -> GatewayRequest:
    params = {
        "client_order_id": client_order_id,
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "market",
        "amount": amount,
        "reference_price": "40000",
    }
    return _request(broker_id, GatewayOp.CREATE_ORDER, params, **kwargs)


def _ask(client: redis.Redis, request: GatewayRequest, *, timeout: float = 15) -> GatewayReply:
    client.xadd(EXCHANGE_REQUESTS, request.to_fields())  # type: ignore[arg-type]
    answer = client.blpop([request.reply_key], timeout=timeout)
    assert answer is not None, f"no reply to {request.op} within {timeout} s"
    return GatewayReply.from_json(answer[1])


def _btc_total(stack: Stack) -> Decimal:
    (balances,) = stack.database.rows("SELECT balances FROM brokers_paperaccount")[0]
    if isinstance(balances, str):  # SQLite's JSON is text, PostgreSQL's jsonb a dict
        balances = json.loads(balances)
    return Decimal(balances.get("BTC", {}).get("total", "0"))


def test_gateway_killed_right_after_answering_keeps_the_answer_and_answers_what_it_left(
    gateway_stack: Stack, redis_server_url: str
) -> None:
    stack, broker = gateway_stack, gateway_stack.broker_id  # type: ignore[attr-defined]
    client = redis.Redis.from_url(redis_server_url)
    try:
        # 1. SIGKILL the instant the answer arrives: the fill it announced is in the database.
        assert _ask(client, _buy(broker, "crash-1", "0.01"), timeout=30).ok
        stack.kill("gateway")
        rows = stack.database.rows("SELECT status FROM brokers_paperorder WHERE client_order_id = 'crash-1'")
        assert rows == [("filled",)]
        assert _btc_total(stack) == Decimal("0.01")

        # 2. Requests delivered to the dead gateway, never acknowledged.
        pending = _buy(broker, "crash-2", "0.02")
        given_up = _buy(broker, "crash-3", "0.04", deadline_s=-1)
        for request in (pending, given_up):
            client.xadd(EXCHANGE_REQUESTS, request.to_fields())  # type: ignore[arg-type]
        client.xreadgroup(GATEWAY_GROUP, "gateway-e2e", {EXCHANGE_REQUESTS: ">"}, count=10)
        assert client.xpending(EXCHANGE_REQUESTS, GATEWAY_GROUP)["pending"] == 2

        stack.start("gateway")
        answer = client.blpop([pending.reply_key], timeout=30)
        assert answer is not None, stack.logs()
        reply = GatewayReply.from_json(answer[1])
        assert reply.ok and reply.result["status"] == "filled"
        stack.wait_until(
            lambda: client.xpending(EXCHANGE_REQUESTS, GATEWAY_GROUP)["pending"] == 0, what="both acknowledged"
        )
        assert client.llen(given_up.reply_key) == 0, "past its deadline: the caller's lookup decides"
        lookup = _request(broker, GatewayOp.FETCH_ORDER, {"symbol": "BTC/USDT", "client_order_id": "crash-3"})
        assert _ask(client, lookup).error_kind == "order_not_found"

        # 3. The restarted gateway's book is the one answered: 0.01 + 0.02 BTC.
        balance = _ask(client, _request(broker, GatewayOp.BALANCE, {})).result
        assert Decimal(balance["total"]["BTC"]) == Decimal("0.03")
        assert _btc_total(stack) == Decimal("0.03")
    finally:
        client.close()


def test_gateway_killed_right_after_a_batch_reply_keeps_every_answer_it_sent(
    gateway_stack: Stack, redis_server_url: str
) -> None:
    """Requests waiting together run as one batch with one commit: whatever was answered before
    the SIGKILL is in the database, and after the restart each order exists once."""
    stack, broker = gateway_stack, gateway_stack.broker_id  # type: ignore[attr-defined]
    client = redis.Redis.from_url(redis_server_url)
    try:
        assert _ask(client, _buy(broker, "warm", "0.001"), timeout=30).ok
        stack.kill("gateway")
        # 60 requests delivered to the dead gateway: the next one claims them all at start and
        # runs them as one batch.
        burst = [_buy(broker, f"burst-{n}", "0.001", deadline_s=60) for n in range(60)]
        for request in burst:
            client.xadd(EXCHANGE_REQUESTS, request.to_fields())  # type: ignore[arg-type]
        client.xreadgroup(GATEWAY_GROUP, "gateway-e2e", {EXCHANGE_REQUESTS: ">"}, count=100)

        stack.start("gateway")
        first = client.blpop([request.reply_key for request in burst], timeout=30)
        assert first is not None, stack.logs()
        stack.kill("gateway")

        answered = {first[0].decode() if isinstance(first[0], bytes) else first[0]} | {
            r.reply_key for r in burst if client.llen(r.reply_key)
        }
        stored = dict(
            stack.database.rows(
                "SELECT client_order_id, status FROM brokers_paperorder WHERE client_order_id LIKE ?", "burst-%"
            )
        )
        for request in burst:
            if request.reply_key in answered:
                assert stored.get(request.params["client_order_id"]) == "filled", "answered, then lost by the kill"
        assert _btc_total(stack) == Decimal("0.001") * (1 + len(stored))

        stack.start("gateway")
        for request in burst:
            if request.reply_key not in answered:
                answer = client.blpop([request.reply_key], timeout=30)
                assert answer is not None, stack.logs()
                assert GatewayReply.from_json(answer[1]).ok
        rows = stack.database.rows(
            "SELECT client_order_id FROM brokers_paperorder WHERE client_order_id LIKE ?", "burst-%"
        )
        assert sorted(cid for (cid,) in rows) == sorted(f"burst-{n}" for n in range(60)), "each order placed once"
        assert _btc_total(stack) == Decimal("0.061")
    finally:
        client.close()
