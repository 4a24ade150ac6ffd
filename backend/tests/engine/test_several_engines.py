"""Several engine processes on one stream: every alert executed once, and the alerts of one
broker and symbol in the order they arrived, while the engines come and go."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from apps.brokers.models import Broker, TypeDeTrading
from apps.core.streams import WEBHOOK_RAW
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.engine.shards import ShardLeases, engine_groups, engine_pending, groups_prepare, shard_of
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import AlertSender
from trading.errors import ConfigurationError

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


def test_two_engines_split_the_shards_and_a_third_waits(redis_client):
    first = ShardLeases(redis_client, consumer="engine-a", count=4)
    second = ShardLeases(redis_client, consumer="engine-b", count=4)
    first.start()
    assert first.owned() == {0, 1, 2, 3}
    second.start()
    assert second.owned() == set()  # all taken: it waits for its share

    first.release_surplus()  # between two batches, the first gives up what is above its share
    second.tick()
    assert len(first.owned()) == 2 and len(second.owned()) == 2
    assert first.owned().isdisjoint(second.owned())

    first.stop()  # leaving releases at once
    second.tick()
    assert second.owned() == {0, 1, 2, 3}
    second.stop()


def test_a_dead_engines_shards_are_taken_over_when_its_lease_expires(redis_client):
    dead = ShardLeases(redis_client, consumer="engine-dead", count=4, lease_seconds=0.5)
    dead.tick()  # took every shard, then died: nothing renews its leases
    survivor = ShardLeases(redis_client, consumer="engine-alive", count=4, lease_seconds=0.5)
    assert survivor.tick() == set()
    time.sleep(0.6)
    assert survivor.tick() == {0, 1, 2, 3}
    survivor.stop()


def test_every_partition_has_one_shard():
    shards = {shard_of(f"{user}:{symbol}", 4) for user in range(1, 20) for symbol in SYMBOLS}
    assert shards == {0, 1, 2, 3}
    assert shard_of("7:BTCUSDT", 4) == shard_of("7:BTCUSDT", 4)
    assert shard_of("7:BTCUSDT", 1) == 0


def test_two_engines_execute_a_mixed_burst_once_and_in_order_per_broker_and_symbol(
    redis_client, gateway, brokers, django_user_model
):
    first = _engine(redis_client, gateway, "engine-a")
    first.start()
    second = _engine(redis_client, gateway, "engine-b")
    second.start()
    first.leases.release_surplus()
    second.leases.tick()
    assert len(first.leases.owned()) == 2 and len(second.leases.owned()) == 2
    # A user's alerts go to one shard: add users until each engine has one of them.
    number = 0
    while any(
        not {first._shard_of(f"{user.pk}:") for user, _broker in brokers} & engine.leases.owned()
        for engine in (first, second)
    ):
        number += 1
        user = django_user_model.objects.create_user(username=f"trader{number}", password="x")
        broker = Broker.objects.create(
            user=user, name="Paper", exchange="paper", type_de_trading=TypeDeTrading.WEBHOOKS
        )
        brokers.append((user, broker))

    entries = _send_burst(redis_client, first, brokers)
    runners = [EngineThread(first).start(), EngineThread(second).start()]
    try:
        _wait_all_processed(len(entries))
    finally:
        for runner in runners:
            runner.stop()

    _assert_once_and_in_order(entries)
    assert first.processed > 0 and second.processed > 0, "both engines did part of the work"
    assert engine_pending(redis_client, WEBHOOK_RAW) == 0


def test_an_engine_that_dies_mid_burst_has_its_alerts_finished_by_the_other(redis_client, gateway, brokers):
    doomed = _engine(redis_client, gateway, "engine-doomed", lease_seconds=1.0)
    doomed.start()
    entries = _send_burst(redis_client, doomed, brokers)
    # The doomed engine reads a batch from each of its shard groups and dies before handling it.
    for group in engine_groups(redis_client):
        redis_client.xreadgroup(group, "engine-doomed", {WEBHOOK_RAW: ">"}, count=7)
    doomed.leases._stop.set()  # its lease thread dies with it; nothing is released

    survivor = _engine(redis_client, gateway, "engine-survivor", lease_seconds=1.0)
    runner = EngineThread(survivor).start()
    try:
        _wait_all_processed(len(entries))
    finally:
        runner.stop()

    _assert_once_and_in_order(entries)
    assert survivor.shards == {0, 1, 2, 3}
    assert engine_pending(redis_client, WEBHOOK_RAW) == 0


def test_changing_the_shard_count_with_alerts_pending_is_refused(redis_client, gateway, brokers):
    engine = _engine(redis_client, gateway, "engine-a")
    engine.start()
    AlertSender(redis_client, engine, *brokers[0]).add(_burst_bodies("BTCUSDT")[0])
    for group in engine_groups(redis_client):
        redis_client.xreadgroup(group, "engine-a", {WEBHOOK_RAW: ">"}, count=1)
    engine.close()

    with pytest.raises(ConfigurationError, match="ENGINE_SHARDS changed from 4 to 2 while 4 entries are pending"):
        groups_prepare(redis_client, (WEBHOOK_RAW,), 2, consumer="engine-b")


def test_the_shard_count_changes_once_nothing_is_pending(redis_client, gateway, brokers):
    engine = _engine(redis_client, gateway, "engine-a")
    sender = AlertSender(redis_client, engine, *brokers[0])
    sender.send({**_burst_bodies("BTCUSDT")[0], "ID": "first"})
    engine.close()

    fewer = _engine(redis_client, gateway, "engine-b", shards=2)
    fewer.start()
    assert engine_groups(redis_client) == ["engine", "engine:1"]
    names = {info["name"].decode() for info in redis_client.xinfo_groups(WEBHOOK_RAW)}
    assert names == {"engine", "engine:1"}
    sender.engine = fewer
    webhook = sender.send({**_burst_bodies("BTCUSDT")[1], "ID": "second"})
    assert webhook.status == "processed"
    assert Webhook.objects.count() == 2  # the first alert was not run again
    fewer.close()
