"""An alert takes effect once, wherever a process stops (DESIGN §5)."""

from __future__ import annotations

import time

import pytest

from apps.brokers.models import PaperOrder
from apps.core.gateway_client import GatewayClient
from apps.core.streams import ENGINE_GROUP, WEBHOOK_DEAD, WEBHOOK_RAW
from apps.webhooks.engine import execution
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.engine.groups import engine_pending
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import BUY_BODY, GatewayThread, eventually

pytestmark = pytest.mark.integration


def _drain_with_retries(engine: TradingEngine, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        engine.step(block_ms=50)
        if not engine_pending(engine.redis, WEBHOOK_RAW):
            return


def test_alert_read_by_an_engine_that_died_is_processed_after_restart(alerts, redis_client, gateway):
    entry = alerts.add(BUY_BODY)
    # The engine reads the entry and dies before doing anything with it (its seat freed).
    redis_client.xreadgroup(ENGINE_GROUP, "engine-test", {WEBHOOK_RAW: ">"}, count=10)
    alerts.engine.close()
    assert not Webhook.objects.exists()

    restarted = TradingEngine(redis_client, gateway, consumer="engine-test", threads=1)
    restarted.start()

    assert Webhook.objects.get(stream_id=entry).status == "processed"
    assert Order.objects.filter(kind="entry").count() == 1
    assert engine_pending(redis_client, WEBHOOK_RAW) == 0


def test_engine_dying_after_the_order_was_sent_places_it_once(alerts, monkeypatch):
    real_apply = execution.order_state_apply
    calls = {"n": 0}

    def dies_once(order, state):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("engine died after the gateway placed the order")
        return real_apply(order, state)

    monkeypatch.setattr(execution, "order_state_apply", dies_once)
    entry = alerts.add(BUY_BODY)
    _drain_with_retries(alerts.engine)

    webhook = Webhook.objects.get(stream_id=entry)
    assert webhook.status == "processed", webhook.error_message
    entry_order = Order.objects.get(kind="entry")
    assert eventually(lambda: PaperOrder.objects.filter(client_order_id=entry_order.client_order_id).count() == 1)
    assert PaperOrder.objects.filter(record__side="buy").count() == 1
    assert WebhookState.objects.get().quantity == entry_order.filled


def test_alert_waits_for_a_stopped_gateway_and_executes_once_it_is_back(
    alerts, redis_client, redis_url, gateway_service
):
    gateway_service.stop()
    alerts.engine.close()  # this test's own engine takes the seat
    impatient = TradingEngine(
        redis_client,
        GatewayClient(redis_client, timeout_seconds=1),
        consumer="engine-test",
        retry_idle_ms=200,
        threads=1,
    )
    entry = alerts.add(BUY_BODY)
    impatient.step(block_ms=50)
    assert Webhook.objects.get(stream_id=entry).status == "processing"

    again = GatewayThread(redis_url).start()
    try:
        _drain_with_retries(impatient, seconds=5)
    finally:
        again.stop()

    assert Webhook.objects.get(stream_id=entry).status == "processed"
    assert Order.objects.filter(kind="entry").count() == 1
    assert eventually(lambda: PaperOrder.objects.filter(record__side="buy").count() == 1)


def test_alert_that_keeps_failing_goes_to_the_dead_letter_stream_and_shows_as_an_error(
    alerts, redis_client, gateway_service
):
    gateway_service.stop()
    alerts.engine.close()  # this test's own engine takes the seat
    engine = TradingEngine(
        redis_client,
        GatewayClient(redis_client, timeout_seconds=1),
        consumer="engine-test",
        retry_idle_ms=100,
        max_deliveries=2,
        threads=1,
    )
    entry = alerts.add(BUY_BODY)
    _drain_with_retries(engine, seconds=6)

    webhook = Webhook.objects.get(stream_id=entry)
    assert webhook.status == "error" and "gave up" in webhook.error_message
    assert redis_client.xlen(WEBHOOK_DEAD) == 1
    assert engine_pending(redis_client, WEBHOOK_RAW) == 0
