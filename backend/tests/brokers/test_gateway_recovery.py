"""The gateway at start: requests a killed gateway left unanswered, books reconciled with the
records, balances compared with the positions; and a reply sent again after a lost connection."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.brokers.gateway import service as gateway_service
from apps.brokers.gateway.service import GatewayService
from apps.brokers.models import Broker, PaperOrder, TypeDeTrading
from apps.core.streams import (
    EXCHANGE_EVENTS,
    EXCHANGE_REQUESTS,
    GATEWAY_GROUP,
    ExchangeEvent,
    GatewayOp,
    GatewayReply,
    GatewayRequest,
)
from apps.webhooks.models import Order, PositionStatus, WebhookState
from trading.orders import OrderKind, OrderRequest, OrderSide, OrderStatus, OrderType, ProtectionRequest
from trading.paper.exchange import PaperExchange

pytestmark = pytest.mark.django_db(transaction=True)

Body = Callable[[GatewayService], Awaitable[None]]


@pytest.fixture(autouse=True)
def _quick_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_service, "BALANCE_CONFIRM_SECONDS", 0.05)


@pytest.fixture
def broker(alice: Any) -> Broker:
    return Broker.objects.create(user=alice, name="Paper", exchange="paper", type_de_trading=TypeDeTrading.WEBHOOKS)


def gateway_run(url: str, body: Body, *, reconcile: bool = True, consumer: str = "gateway-test") -> None:
    """A gateway service in this thread's own event loop: started, `body` run, everything settled."""

    async def main() -> None:
        client = aioredis.Redis.from_url(url)
        service = GatewayService(client, consumer=consumer, reconcile=reconcile)
        try:
            await service.start()
            await settle(service)
            await body(service)
            await settle(service)
        finally:
            await service.close()
            await client.aclose()
            await sync_to_async(connections.close_all, thread_sensitive=True)()

    asyncio.run(main())


async def settle(service: GatewayService) -> None:
    """Until every queued job, delayed ones included, has run."""
    for _ in range(3):
        await service.drain()
        await asyncio.sleep(0.08)
    await service.drain()


async def paper(service: GatewayService, broker: Broker) -> PaperExchange:
    exchange = await service.registry.get(broker.pk)
    assert isinstance(exchange, PaperExchange)
    return exchange


async def nothing(_service: GatewayService) -> None:
    return None


def protected_buy(url: str, broker: Broker) -> None:
    """A paper book holding 0.01 BTC bought at 40,000 with an open stop-loss / take-profit pair."""

    async def body(service: GatewayService) -> None:
        exchange = await paper(service, broker)
        service.prices.update("BTC/USDT", last=D(40000))
        await exchange.create_order(OrderRequest("e1", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, D("0.01")))
        await exchange.create_protection(
            ProtectionRequest(
                "BTC/USDT",
                D("0.01"),
                stop_loss_client_order_id="sl1",
                stop_loss_price=D(38000),
                take_profit_client_order_id="tp1",
                take_profit_price=D(46000),
            )
        )

    gateway_run(url, body, reconcile=False)


def record(broker: Broker, cid: str, kind: OrderKind, status: OrderStatus, **fields: Any) -> Order:
    order_type = {OrderKind.STOP_LOSS: OrderType.STOP_MARKET, OrderKind.TAKE_PROFIT: OrderType.TAKE_PROFIT_LIMIT}
    side = OrderSide.BUY if kind == OrderKind.ENTRY else OrderSide.SELL
    values: dict[str, Any] = {
        "user": broker.user,
        "broker": broker,
        "client_order_id": cid,
        "symbol": "BTC/USDT",
        "kind": kind,
        "side": side,
        "type": order_type.get(kind, OrderType.MARKET),
        "amount": D("0.01"),
        "status": status,
        **fields,
    }
    return Order.objects.create(**values)


def position(broker: Broker, quantity: str) -> WebhookState:
    return WebhookState.objects.create(
        user=broker.user, broker=broker, symbol="BTC/USDT", quantity=D(quantity), entry_price=D(40000)
    )


def events(url: str) -> list[ExchangeEvent]:
    client = redis.Redis.from_url(url)
    try:
        entries: Any = client.xrange(EXCHANGE_EVENTS)
        return [ExchangeEvent.from_fields(fields) for _id, fields in entries]
    finally:
        client.close()


def test_an_order_open_on_the_book_but_cancelled_in_the_records_is_cancelled_at_start(
    redis_url: str, broker: Broker
) -> None:
    protected_buy(redis_url, broker)
    record(broker, "e1", OrderKind.ENTRY, OrderStatus.FILLED, filled=D("0.01"))
    record(broker, "sl1", OrderKind.STOP_LOSS, OrderStatus.CANCELED)
    record(broker, "tp1", OrderKind.TAKE_PROFIT, OrderStatus.CANCELED)
    assert PaperOrder.objects.filter(status="open").count() == 2

    gateway_run(redis_url, nothing)

    assert PaperOrder.objects.filter(status="open").count() == 0, "the coins are free again"
    assert events(redis_url) == []


def test_an_order_open_in_the_records_but_filled_on_the_book_is_published_to_the_engine(
    redis_url: str, broker: Broker
) -> None:
    protected_buy(redis_url, broker)

    async def stop_hit(service: GatewayService) -> None:  # the fill is saved; its event never left
        await (await paper(service, broker)).on_price("BTC/USDT", last=D(38500), low=D(37900))

    gateway_run(redis_url, stop_hit, reconcile=False)
    record(broker, "e1", OrderKind.ENTRY, OrderStatus.FILLED, filled=D("0.01"))
    record(broker, "sl1", OrderKind.STOP_LOSS, OrderStatus.OPEN)
    record(broker, "tp1", OrderKind.TAKE_PROFIT, OrderStatus.OPEN)

    gateway_run(redis_url, nothing)

    published = {event.order.client_order_id: event.order for event in events(redis_url)}
    assert published["sl1"].status == OrderStatus.FILLED and published["sl1"].filled == D("0.01")
    assert published["tp1"].status == OrderStatus.CANCELED
    assert next(iter(published)) == "sl1", "fills first"
    assert all(event.broker_id == broker.pk and event.paper for event in events(redis_url))


def test_an_order_sent_long_ago_but_unknown_to_the_book_is_reported_as_such(redis_url: str, broker: Broker) -> None:
    protected_buy(redis_url, broker)
    old = timezone.now() - timedelta(minutes=5)
    lost = record(broker, "sl0", OrderKind.STOP_LOSS, OrderStatus.OPEN)
    young = record(broker, "e9", OrderKind.ENTRY, OrderStatus.SUBMITTING)
    Order.objects.filter(pk=lost.pk).update(updated_at=old)
    assert young.updated_at > old

    gateway_run(redis_url, nothing)

    (event,) = events(redis_url)
    assert event.order.client_order_id == "sl0"
    assert event.order.status == OrderStatus.CANCELED, "the engine protects the position again"


def test_a_balance_that_differs_from_the_position_is_shown_then_cleared(redis_url: str, broker: Broker) -> None:
    protected_buy(redis_url, broker)  # the book holds 0.01 BTC
    held = position(broker, "0.013")

    gateway_run(redis_url, nothing)

    held.refresh_from_db()
    assert "holds 0.01 BTC" in held.book_warning and "0.013 BTC" in held.book_warning

    WebhookState.objects.filter(pk=held.pk).update(quantity=D("0.01"))
    gateway_run(redis_url, nothing)

    held.refresh_from_db()
    assert held.book_warning == ""


def test_coins_held_after_the_position_closed_are_shown_on_that_position(redis_url: str, broker: Broker) -> None:
    protected_buy(redis_url, broker)
    closed = position(broker, "0")
    WebhookState.objects.filter(pk=closed.pk).update(status=PositionStatus.CLOSED)

    gateway_run(redis_url, nothing)

    closed.refresh_from_db()
    assert "holds 0.01 BTC" in closed.book_warning


def _request(broker: Broker, request_id: str, *, deadline_s: float) -> GatewayRequest:
    return GatewayRequest(
        request_id=request_id,
        op=GatewayOp.BALANCE,
        broker_id=broker.pk,
        params={},
        deadline_ms=int((time.time() + deadline_s) * 1000),
    )


def test_requests_a_killed_gateway_left_unanswered_are_answered_after_its_restart(
    redis_url: str, broker: Broker
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.xgroup_create(EXCHANGE_REQUESTS, GATEWAY_GROUP, id="0", mkstream=True)
    live = [_request(broker, f"live-{n}", deadline_s=30) for n in range(150)]  # more than one read's worth
    late = _request(broker, "late", deadline_s=-1)
    for request in [*live, late]:
        client.xadd(EXCHANGE_REQUESTS, request.to_fields())  # type: ignore[arg-type]
    # A gateway under another name (a replaced container) read them and died.
    client.xreadgroup(GATEWAY_GROUP, "gateway-dead", {EXCHANGE_REQUESTS: ">"}, count=1000)

    gateway_run(redis_url, nothing, consumer="gateway-new")

    for request in live:
        reply = GatewayReply.from_json(client.lpop(request.reply_key))  # type: ignore[arg-type]
        assert reply.ok and "free" in reply.result
    assert client.llen(late.reply_key) == 0, "its caller gave up: it looks the order up itself"
    assert client.xpending(EXCHANGE_REQUESTS, GATEWAY_GROUP)["pending"] == 0
    client.close()


def test_a_reply_that_fails_on_a_lost_connection_is_sent_again(redis_url: str, broker: Broker) -> None:
    request = _request(broker, "r1", deadline_s=30)

    async def body(service: GatewayService) -> None:
        real = service.redis.pipeline
        failures = {"left": 3}

        def flaky(*args: Any, **kwargs: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise RedisConnectionError("Connection closed by server.")
            return real(*args, **kwargs)

        service.redis.pipeline = flaky  # type: ignore[method-assign]
        await service.redis.xadd(EXCHANGE_REQUESTS, request.to_fields())  # type: ignore[arg-type]
        while not await service.step(block_ms=100):
            pass
        await service.drain()
        service.redis.pipeline = real  # type: ignore[method-assign]

    gateway_run(redis_url, body)
    client = redis.Redis.from_url(redis_url)
    raw: Any = client.lpop(request.reply_key)
    client.close()
    assert raw is not None and json.loads(raw)["ok"]
