"""The gateway runs the requests of one paper account that wait together as one batch: one
commit, then their replies; a commit that fails answers each with a temporary error."""

from __future__ import annotations

import time
from decimal import Decimal as D
from typing import Any

import pytest
import redis
from django.db import OperationalError

from apps.brokers.gateway.paper_store import DjangoPaperStore
from apps.brokers.gateway.service import GatewayService
from apps.brokers.models import Broker, PaperAccount, PaperOrder, TypeDeTrading
from apps.core.streams import EXCHANGE_REQUESTS, GatewayOp, GatewayReply, GatewayRequest
from tests.brokers.test_gateway_recovery import gateway_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(alice: Any) -> Broker:
    return Broker.objects.create(user=alice, name="Paper", exchange="paper", type_de_trading=TypeDeTrading.WEBHOOKS)


def _buy(broker: Broker, client_order_id: str) -> GatewayRequest:
    params = {
        "client_order_id": client_order_id,
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "market",
        "amount": "0.001",
        "reference_price": "40000",
    }
    return GatewayRequest(
        request_id=f"req-{client_order_id}",
        op=GatewayOp.CREATE_ORDER,
        broker_id=broker.pk,
        params=params,
        deadline_ms=int((time.time() + 30) * 1000),
    )


def _run_together(url: str, requests: list[GatewayRequest]) -> None:
    """Put the requests on the stream at once, then let a gateway read and answer them."""

    async def body(service: GatewayService) -> None:
        for request in requests:
            await service.redis.xadd(EXCHANGE_REQUESTS, request.to_fields())  # type: ignore[arg-type]
        while not await service.step(block_ms=100):
            pass
        await service.drain()

    gateway_run(url, body, reconcile=False)


def _replies(url: str, requests: list[GatewayRequest]) -> list[GatewayReply]:
    client = redis.Redis.from_url(url)
    try:
        raw = [client.lpop(request.reply_key) for request in requests]
    finally:
        client.close()
    assert all(item is not None for item in raw), "every request is answered"
    return [GatewayReply.from_json(item) for item in raw]  # type: ignore[arg-type]


def test_requests_waiting_together_are_committed_once_before_any_reply_leaves(
    redis_url: str, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [_buy(broker, f"b{n}") for n in range(5)]
    client = redis.Redis.from_url(redis_url)
    saves: list[int] = []  # replies already sent when each save ran
    real_save = DjangoPaperStore._save_sync

    def save(self: DjangoPaperStore, *args: Any) -> None:
        saves.append(sum(client.exists(request.reply_key) for request in requests))
        real_save(self, *args)

    monkeypatch.setattr(DjangoPaperStore, "_save_sync", save)
    _run_together(redis_url, requests)
    client.close()

    assert saves == [0], "one commit for the batch, before any reply"
    assert all(reply.ok and reply.result["status"] == "filled" for reply in _replies(redis_url, requests))
    assert PaperOrder.objects.filter(status="filled").count() == 5


def test_a_batch_whose_commit_failed_answers_each_request_with_a_temporary_error_and_did_nothing(
    redis_url: str, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [_buy(broker, f"b{n}") for n in range(5)]
    real_save = DjangoPaperStore._save_sync
    failures = {"left": 1}

    def save(self: DjangoPaperStore, *args: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("database is locked")
        real_save(self, *args)

    monkeypatch.setattr(DjangoPaperStore, "_save_sync", save)
    _run_together(redis_url, requests)

    replies = _replies(redis_url, requests)
    assert {reply.error_kind for reply in replies} == {"temporary"}, "nothing was done: ask again"
    assert PaperOrder.objects.count() == 0

    _run_together(redis_url, requests)  # the callers ask again: each order placed once
    assert all(reply.ok for reply in _replies(redis_url, requests))
    assert PaperOrder.objects.filter(status="filled").count() == 5
    balances = PaperAccount.objects.get(broker=broker).balances
    assert D(balances["BTC"]["total"]) == D("0.005")
