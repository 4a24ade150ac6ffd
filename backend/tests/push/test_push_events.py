"""What a signed-in user's socket carries: their own alerts, positions and orders as the API
shows them, created and updated, whatever code path changed them; nobody else's."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from apps.webhooks.api.serializers import (
    ORDER_FIELDS,
    POSITION_FIELDS,
    WEBHOOK_FIELDS,
    OrderSerializer,
    WebhookSerializer,
    WebhookStateSerializer,
)
from apps.webhooks.engine.cancels import protection_cancel
from apps.webhooks.engine.market import positions_mark
from apps.webhooks.models import Order, Webhook, WebhookState, WebhookStatus
from apps.webhooks.push.forwarder import Forwarder
from tests.push.conftest import Connect, messages, paper_broker, wait_all, wait_for

pytestmark = pytest.mark.integration

SERIALIZERS: dict[str, Any] = {
    "webhook": WebhookSerializer,
    "position": WebhookStateSerializer,
    "order": OrderSerializer,
}
MODELS: dict[str, Any] = {"webhook": Webhook, "position": WebhookState, "order": Order}


def as_api(kind: str, pk: int) -> dict[str, Any]:
    """The object as the REST API renders it now."""
    row = MODELS[kind].objects.select_related("user", "broker").get(pk=pk)
    return json.loads(JSONRenderer().render(SERIALIZERS[kind](row).data))


def rows_create(user: Any, symbol: str = "BTC/USDT") -> dict[str, int]:
    broker = paper_broker(user)
    webhook = Webhook.objects.create(
        user=user,
        broker=broker,
        symbol="BTCUSDT",
        action="BuyMarket",
        prix=Decimal("40000"),
        status=WebhookStatus.PROCESSING,
        received_at=timezone.now(),
        raw_payload={"Symbol": "BTCUSDT", "Action": "BuyMarket"},
    )
    position = WebhookState.objects.create(
        user=user, broker=broker, symbol=symbol, quantity=Decimal("0.1"), entry_price=Decimal("40000")
    )
    order = Order.objects.create(
        user=user,
        broker=broker,
        webhook=webhook,
        position=position,
        client_order_id=f"ab-w{webhook.pk}-e",  # unique per alert
        symbol="BTC/USDT",
        kind="entry",
        side="buy",
        type="market",
        amount=Decimal("0.1"),
        status="submitting",
    )
    return {"webhook": webhook.pk, "position": position.pk, "order": order.pk}


def rows_update(ids: dict[str, int]) -> None:
    webhook = Webhook.objects.get(pk=ids["webhook"])
    webhook.status = WebhookStatus.PROCESSED
    webhook.processed_at = timezone.now()
    webhook.save()
    order = Order.objects.get(pk=ids["order"])
    order.status, order.filled = "filled", Decimal("0.1")
    order.save()
    position = WebhookState.objects.get(pk=ids["position"])
    position.stop_loss_price = Decimal("38000")
    position.save()


def is_event(kind: str, event: str, pk: int) -> Any:
    return lambda m: m.get("type") == kind and m.get("event") == event and m["data"]["id"] == pk


async def test_owner_sees_her_alert_position_and_order_created_then_updated_and_stranger_sees_nothing(
    connect: Connect, alice: Any, charlie: Any
) -> None:
    mine, strangers = await connect(alice), await connect(charlie)
    assert (await mine.connect())[0] and (await strangers.connect())[0]

    ids = await database_sync_to_async(rows_create)(alice)
    created = await wait_all(mine, {(kind, "created", pk) for kind, pk in ids.items()})
    for kind, fields in (("webhook", WEBHOOK_FIELDS), ("position", POSITION_FIELDS), ("order", ORDER_FIELDS)):
        message = created[(kind, "created", ids[kind])]
        assert set(message) == {"type", "event", "data"}
        assert tuple(message["data"]) == fields
        assert message["data"] == await database_sync_to_async(as_api)(kind, ids[kind])

    await database_sync_to_async(rows_update)(ids)
    found = await wait_all(mine, {(kind, "updated", pk) for kind, pk in ids.items()})
    updated = {kind: found[(kind, "updated", pk)]["data"] for kind, pk in ids.items()}
    for kind, pk in ids.items():
        assert updated[kind] == await database_sync_to_async(as_api)(kind, pk)
    assert updated["webhook"]["status"] == "processed"
    assert updated["order"]["status"] == "filled" and Decimal(updated["order"]["filled"]) == Decimal("0.1")
    assert Decimal(updated["position"]["stop_loss_price"]) == Decimal("38000")
    assert updated["webhook"]["user_username"] == "alice"

    assert await messages(strangers, quiet=0.5) == []


async def test_each_user_gets_only_their_own_rows(connect: Connect, alice: Any, bob: Any, charlie: Any) -> None:
    sockets = {user.username: await connect(user) for user in (alice, bob, charlie)}
    for ws in sockets.values():
        assert (await ws.connect())[0]
    alices = await database_sync_to_async(rows_create)(alice)
    bobs = await database_sync_to_async(rows_create)(bob)
    await wait_for(sockets["alice"], is_event("order", "created", alices["order"]))
    await wait_for(sockets["bob"], is_event("order", "created", bobs["order"]))
    seen = {name: await messages(ws, quiet=0.5) for name, ws in sockets.items()}
    seen_alice = [(m["type"], m["data"]["id"]) for m in seen["alice"]]
    assert seen["charlie"] == []
    assert all(m["data"]["user"] == alice.pk for m in seen["alice"])
    assert all(m["data"]["user"] == bob.pk for m in seen["bob"])
    assert ("order", bobs["order"]) not in seen_alice


async def test_second_socket_of_the_same_user_gets_the_same_events(connect: Connect, alice: Any) -> None:
    first, second = await connect(alice), await connect(alice)
    assert (await first.connect())[0] and (await second.connect())[0]
    ids = await database_sync_to_async(rows_create)(alice)
    for ws in (first, second):
        await wait_for(ws, is_event("order", "created", ids["order"]))


def protective_orders_create(user: Any) -> tuple[int, list[int]]:
    broker = paper_broker(user)
    position = WebhookState.objects.create(
        user=user, broker=broker, symbol="BTC/USDT", quantity=Decimal("0.1"), entry_price=Decimal("40000")
    )
    orders = [
        Order.objects.create(
            user=user,
            broker=broker,
            position=position,
            client_order_id=f"ab-p{position.pk}-{kind}",
            symbol="BTC/USDT",
            kind=kind,
            side="sell",
            type="stop_market" if kind == "stop_loss" else "take_profit_limit",
            amount=Decimal("0.1"),
            status="new",
        )
        for kind in ("stop_loss", "take_profit")
    ]
    return position.pk, [order.pk for order in orders]


def cancel_never_sent(position_id: int) -> None:
    """The engine's cancel of protective orders never sent: a QuerySet.update(), no signal."""
    protection_cancel(WebhookState.objects.get(pk=position_id), None)  # type: ignore[arg-type]


async def test_orders_changed_by_queryset_update_in_the_engine_are_pushed(connect: Connect, alice: Any) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    position_id, order_ids = await database_sync_to_async(protective_orders_create)(alice)
    await wait_all(ws, {("order", "created", pk) for pk in order_ids})

    await database_sync_to_async(cancel_never_sent)(position_id)
    found = await wait_all(ws, {("order", "updated", pk) for pk in order_ids})
    assert [message["data"]["status"] for message in found.values()] == ["canceled", "canceled"]


async def test_positions_marked_to_market_by_bulk_update_are_pushed_once_each(connect: Connect, alice: Any) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    position_id, _ = await database_sync_to_async(protective_orders_create)(alice)
    await wait_for(ws, is_event("position", "created", position_id))
    await messages(ws, quiet=0.3)

    def mark_many() -> None:
        for price in ("41000", "42000", "43000"):
            positions_mark(symbol="BTC/USDT", price=Decimal(price))

    await database_sync_to_async(mark_many)()
    received = [m for m in await messages(ws, quiet=0.5) if m["type"] == "position"]
    assert received, "mark-to-market was not pushed"
    assert Decimal(received[-1]["data"]["current_price"]) == Decimal("43000")
    assert Decimal(received[-1]["data"]["unrealized_pnl"]) == Decimal("300")
    assert len(received) <= 3  # coalesced: three marks within one flush are usually one event


async def test_two_web_processes_forward_each_change_once(connect: Connect, alice: Any) -> None:
    """Two forwarders share the stream through the consumer group: every change arrives once."""
    ws = await connect(alice)
    assert (await ws.connect())[0]
    other = Forwarder(consumer="web-other-process")
    task = asyncio.get_running_loop().create_task(other.run())
    try:
        await asyncio.wait_for(other.ready.wait(), 5)
        created = []
        for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"):
            created.append(await database_sync_to_async(rows_create)(alice, symbol))
            await asyncio.sleep(0.05)  # separate flushes, so both forwarders get some
        received = await messages(ws, quiet=1.0, seconds=10)
    finally:
        task.cancel()
        await other.close()
    keys = [(m["type"], m["event"], m["data"]["id"]) for m in received]
    expected = {(kind, "created", pk) for ids in created for kind, pk in ids.items()}
    assert sorted(keys) == sorted(expected)
