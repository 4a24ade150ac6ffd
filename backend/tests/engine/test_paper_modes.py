"""Paper stays paper (DESIGN §5.5): what `--test` placed is marked paper for good and only ever
goes to the paper exchange; an engine running with `--test` never touches a live position."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.engine.guard import positions_guard
from apps.webhooks.engine.reconcile import orders_reconcile, positions_protect_again
from apps.webhooks.models import Order, WebhookState
from tests.engine.conftest import BUY_BODY, AlertSender

pytestmark = pytest.mark.integration

SELL_ALL = {"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "40000"}


def _engine(redis_client, *, test: bool, consumer: str) -> TradingEngine:
    gateway = GatewayClient(redis_client, timeout_seconds=5, force_paper=test)
    engine = TradingEngine(redis_client, gateway, consumer=consumer, retry_idle_ms=200, threads=1)
    engine.start()
    return engine


@pytest.fixture
def engines(redis_client, gateway_service) -> Iterator[list[TradingEngine]]:
    started: list[TradingEngine] = []
    yield started
    for engine in started:
        engine.close()


def test_a_position_opened_under_test_stays_paper_when_the_engine_restarts_live(
    redis_client, engines, alice, binance_broker, simulator_thread
):
    test_engine = _engine(redis_client, test=True, consumer="engine-paper")
    engines.append(test_engine)
    buy = AlertSender(redis_client, test_engine, alice, binance_broker).send(BUY_BODY)
    assert buy.status == "processed", buy.error_message
    position = WebhookState.objects.get(status="open")
    assert position.paper and all(order.paper for order in Order.objects.all())
    protection = list(Order.objects.filter(kind__in=["stop_loss", "take_profit"]).values_list("pk", "status"))
    test_engine.close()
    engines.remove(test_engine)

    live_engine = _engine(redis_client, test=False, consumer="engine-live")  # reconciles at start
    engines.append(live_engine)
    orders_reconcile(live_engine.gateway)
    positions_protect_again(live_engine.gateway)
    assert list(Order.objects.filter(kind__in=["stop_loss", "take_profit"]).values_list("pk", "status")) == protection
    sell = AlertSender(redis_client, live_engine, alice, binance_broker).send(SELL_ALL)

    position.refresh_from_db()
    assert sell.status == "processed", sell.error_message
    assert position.status == "closed"  # sold where it was bought: on the paper exchange
    assert all(order.paper for order in Order.objects.all())
    assert simulator_thread.orders() == []  # nothing ever reached the live account


def test_a_live_engine_does_not_buy_into_a_paper_position(redis_client, engines, alice, binance_broker):
    test_engine = _engine(redis_client, test=True, consumer="engine-paper")
    engines.append(test_engine)
    AlertSender(redis_client, test_engine, alice, binance_broker).send(BUY_BODY)
    test_engine.close()
    engines.remove(test_engine)
    live_engine = _engine(redis_client, test=False, consumer="engine-live")
    engines.append(live_engine)

    buy = AlertSender(redis_client, live_engine, alice, binance_broker).send({**BUY_BODY, "PourCent": "10"})

    assert buy.status == "error" and "paper" in buy.error_message
    assert not Order.objects.filter(paper=False).exists()


def test_an_engine_running_with_test_never_touches_a_live_position(
    redis_client, engines, alice, binance_broker, simulator_thread
):
    live_engine = _engine(redis_client, test=False, consumer="engine-live")
    engines.append(live_engine)
    buy = AlertSender(redis_client, live_engine, alice, binance_broker).send(BUY_BODY)
    assert buy.status == "processed", buy.error_message
    position = WebhookState.objects.get(status="open")
    assert not position.paper and position.protection_mode == "exchange"
    before = sorted(Order.objects.values_list("client_order_id", "status"))
    on_exchange = simulator_thread.orders()
    live_engine.close()
    engines.remove(live_engine)

    test_engine = _engine(redis_client, test=True, consumer="engine-paper")  # reconciles at start
    engines.append(test_engine)
    orders_reconcile(test_engine.gateway)
    positions_protect_again(test_engine.gateway)
    position.protection_mode = "engine"  # even a guarded live position is not the --test engine's
    position.save()
    positions_guard(test_engine.gateway, symbol="BTC/USDT", low=Decimal(30000), high=Decimal(30000))
    sender = AlertSender(redis_client, test_engine, alice, binance_broker)
    sell = sender.send(SELL_ALL)
    maj = sender.send({"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "Prix": "40000"})

    assert sell.status == "error" and "live" in sell.error_message
    assert maj.status == "error" and "live" in maj.error_message
    position.refresh_from_db()
    assert position.status == "open"
    assert sorted(Order.objects.values_list("client_order_id", "status")) == before
    assert simulator_thread.orders() == on_exchange


def test_a_paper_limit_filling_beside_a_live_position_opens_a_paper_position_of_its_own(
    redis_client, engines, alice, binance_broker, simulator_thread
):
    paper_prices = GatewayClient(redis_client, timeout_seconds=5, force_paper=True)
    paper_prices.price_update(symbol="BTC/USDT", last="40000", low="40000", high="40000")
    test_engine = _engine(redis_client, test=True, consumer="engine-paper")
    engines.append(test_engine)
    limit = AlertSender(redis_client, test_engine, alice, binance_broker).send(
        {"Symbol": "BTCUSDT", "Action": "BuyLimit", "PourCent": "10", "Prix": "39000"}
    )
    assert limit.status == "processed", limit.error_message
    test_engine.close()
    engines.remove(test_engine)
    live_engine = _engine(redis_client, test=False, consumer="engine-live")
    engines.append(live_engine)
    buy = AlertSender(redis_client, live_engine, alice, binance_broker).send(
        {"Symbol": "BTCUSDT", "Action": "BuyMarket", "PourCent": "10", "Prix": "40000", "PrixSL": "38000"}
    )
    assert buy.status == "processed", buy.error_message
    live = WebhookState.objects.get(status="open", paper=False)
    live_quantity, on_exchange = live.quantity, simulator_thread.orders()

    paper_prices.price_update(symbol="BTC/USDT", last="38500", low="38500", high="40000")  # the paper limit fills
    for _ in range(20):
        live_engine.step(block_ms=50)

    live.refresh_from_db()
    assert live.quantity == live_quantity and live.protection_mode == "exchange"
    assert simulator_thread.orders() == on_exchange  # the real stop-loss was never touched
    entry = Order.objects.get(webhook=limit)
    assert entry.status == "filled" and entry.paper
    paper = WebhookState.objects.get(status="open", paper=True)
    assert entry.position_id == paper.pk and paper.quantity == entry.filled
    assert all(order.paper for order in paper.orders.all())
    assert not Order.objects.filter(position=live, paper=True).exists()
