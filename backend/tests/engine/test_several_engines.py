"""Several engine processes on one stream: one active, the others standing by; every alert
executed once, and the alerts of one broker and symbol in the order they arrived, while the
engines come and go."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from apps.brokers.models import Broker, TypeDeTrading
from apps.core.streams import ENGINE_GROUP, WEBHOOK_RAW
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.engine.groups import engine_pending, groups_prepare
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import AlertSender

pytestmark = pytest.mark.integration

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT"]
PRICES = {"BTCUSDT": 40000, "ETHUSDT": 2000, "SOLUSDT": 100, "BNBUSDT": 300, "XRPUSDT": 0.5, "ADAUSDT": 0.4}


def _burst_bodies(symbol: str) -> list[dict[str, Any]]:
    """A sequence whose outcome depends on its order: open, add, take half, move, close."""
    price = PRICES[symbol]
    return [
        {"Symbol": symbol, "Action": "BuyMarket", "PourCent": "5", "Prix": str(price)},
        {"Symbol": symbol, "Action": "BuyMarket", "PourCent": "5", "Prix": str(price)},
        {"Symbol": symbol, "Action": "SellMarket", "PourCent": "50", "Prix": str(price)},
        {"Symbol": symbol, "Action": "MAJ", "PrixSL": str(price * 0.9), "PrixTP": str(price * 1.2)},
        {"Symbol": symbol, "Action": "SellMarket", "PourCent": "100", "Prix": str(price)},
    ]


class EngineThread:
    """One engine stepping on a thread of its own, as a separate process would."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> EngineThread:
        self.thread.start()
        return self

    def _run(self) -> None:
        from django.db import connections

        try:
            while not self.stopped.is_set():
                self.engine.step(block_ms=50)
        finally:
            connections.close_all()

    def stop(self, *, release: bool = True) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)
        if release:
            self.engine.close()


def _engine(redis_client, gateway, name: str, **kwargs: Any) -> TradingEngine:
    return TradingEngine(redis_client, gateway, consumer=name, retry_idle_ms=300, threads=2, **kwargs)


def _wait_all_processed(count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Webhook.objects.filter(status__in=["processed", "error"]).count() >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{Webhook.objects.filter(status__in=['processed', 'error']).count()} of {count} done")


def _assert_once_and_in_order(entries: list[str]) -> None:
    webhooks = {str(webhook.stream_id): webhook for webhook in Webhook.objects.all()}
    assert sorted(webhooks) == sorted(entries), "every alert recorded once, nothing else"
    assert all(webhook.status == "processed" for webhook in webhooks.values()), [
        (w.action, w.symbol, w.error_message) for w in webhooks.values() if w.status != "processed"
    ]
    # One entry or exit order per buy and sell, never two.
    for webhook in webhooks.values():
        expected = 1 if webhook.action in ("BuyMarket", "SellMarket") else 0
        assert Order.objects.filter(webhook=webhook, kind__in=["entry", "exit"]).count() == expected
    # Per broker and symbol, orders were created in the order the alerts arrived.
    by_partition: dict[tuple[int | None, str], list[tuple[int, str]]] = {}
    for order in Order.objects.filter(kind__in=["entry", "exit"]).select_related("webhook"):
        assert order.webhook is not None
        by_partition.setdefault((order.broker_id, order.symbol), []).append((order.pk, str(order.webhook.stream_id)))
    for orders in by_partition.values():
        created = [stream_id for _pk, stream_id in sorted(orders)]
        arrived = sorted(created, key=lambda entry: tuple(int(part) for part in entry.split("-")))
        assert created == arrived
    # Open, add, take half, close: every position ends closed with nothing left.
    assert not WebhookState.objects.filter(status="open").exists()


@pytest.fixture
def brokers(alice, bob) -> list[tuple[Any, Broker]]:
    made = []
    for user in (alice, bob):
        broker = Broker.objects.create(
            user=user, name="Paper", exchange="paper", type_de_trading=TypeDeTrading.WEBHOOKS
        )
        made.append((user, broker))
    return made


def _send_burst(redis_client, engine: TradingEngine, brokers) -> list[str]:
    entries = []
    senders = [AlertSender(redis_client, engine, user, broker) for user, broker in brokers]
    for step in range(5):  # interleaved: every partition's alerts spread over the whole burst
        for sender in senders:
            for symbol in SYMBOLS:
                body = {**_burst_bodies(symbol)[step], "ID": f"{sender.user.pk}-{symbol}-{step}"}
                entries.append(sender.add(body))
    return entries


def test_one_engine_is_active_and_runs_a_mixed_burst_once_and_in_order_while_the_other_stands_by(
    redis_client, gateway, brokers
):
    first = _engine(redis_client, gateway, "engine-a")
    first.start()
    second = _engine(redis_client, gateway, "engine-b")
    second.start()
    assert first.active and not second.active

    entries = _send_burst(redis_client, first, brokers)
    runners = [EngineThread(first).start(), EngineThread(second).start()]
    try:
        _wait_all_processed(len(entries))
    finally:
        for runner in runners:
            runner.stop()

    _assert_once_and_in_order(entries)
    assert first.processed == len(entries) and second.processed == 0
    # One consumer group: each entry was read once.
    groups = redis_client.xinfo_groups(WEBHOOK_RAW)
    assert [group["name"].decode() for group in groups] == [ENGINE_GROUP]
    assert engine_pending(redis_client, WEBHOOK_RAW) == 0


def test_a_standby_finishes_the_alerts_of_an_active_engine_that_died_mid_burst(redis_client, gateway, brokers):
    doomed = _engine(redis_client, gateway, "engine-doomed")
    doomed.start()
    survivor = _engine(redis_client, gateway, "engine-survivor")
    survivor.start()
    assert doomed.active and not survivor.active
    entries = _send_burst(redis_client, doomed, brokers)
    # The active engine reads a batch and dies before handling it: its seat is freed by the
    # database (or the kernel), nothing else happens.
    redis_client.xreadgroup(ENGINE_GROUP, "engine-doomed", {WEBHOOK_RAW: ">"}, count=7)
    doomed.seat.release()

    started = time.monotonic()
    runner = EngineThread(survivor).start()
    try:
        deadline = time.monotonic() + 3
        while not survivor.active and time.monotonic() < deadline:
            time.sleep(0.02)
        took_over = time.monotonic() - started
        assert survivor.active and took_over < 3.0, f"took over after {took_over:.1f} s"
        _wait_all_processed(len(entries))
    finally:
        runner.stop()
        doomed.close()

    assert survivor.processed == len(entries)
    _assert_once_and_in_order(entries)
    assert engine_pending(redis_client, WEBHOOK_RAW) == 0


def test_shard_groups_of_the_old_layout_are_folded_into_one_without_losing_an_alert(redis_client, gateway, brokers):
    sender = AlertSender(redis_client, None, *brokers[0])
    done = sender.add({**_burst_bodies("BTCUSDT")[0], "ID": "handled-before"})
    pending = sender.add({**_burst_bodies("ETHUSDT")[0], "ID": "pending-in-shard-1"})
    unread = sender.add({**_burst_bodies("SOLUSDT")[0], "ID": "never-read"})
    for name in (ENGINE_GROUP, f"{ENGINE_GROUP}:1"):
        redis_client.xgroup_create(WEBHOOK_RAW, name, id="0")
    # The old layout: shard 0 read and acknowledged two entries, shard 1 left the second pending.
    redis_client.xreadgroup(ENGINE_GROUP, "old", {WEBHOOK_RAW: ">"}, count=2)
    redis_client.xack(WEBHOOK_RAW, ENGINE_GROUP, done, pending)
    redis_client.xreadgroup(f"{ENGINE_GROUP}:1", "old", {WEBHOOK_RAW: ">"}, count=2)
    redis_client.xack(WEBHOOK_RAW, f"{ENGINE_GROUP}:1", done)
    redis_client.set("engine:shards", 2)

    groups_prepare(redis_client, (WEBHOOK_RAW,))

    assert [group["name"].decode() for group in redis_client.xinfo_groups(WEBHOOK_RAW)] == [ENGINE_GROUP]
    assert redis_client.get("engine:shards") is None
    read = redis_client.xreadgroup(ENGINE_GROUP, "new", {WEBHOOK_RAW: ">"}, count=10)
    assert [entry_id.decode() for entry_id, _fields in read[0][1]] == [pending, unread]
