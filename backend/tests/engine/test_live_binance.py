"""The alert flow against a `binance` broker: real ccxt code talking to the local simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.brokers.models import Broker
from apps.webhooks.models import Order, WebhookState
from tests.engine.conftest import BUY_BODY, approx, eventually

pytestmark = pytest.mark.integration


def test_buy_maj_and_sell_on_binance_through_ccxt_match_the_paper_flow(live_alerts, simulator_thread):
    buy = live_alerts.send(BUY_BODY)
    assert buy.status == "processed", buy.error_message
    position = WebhookState.objects.get(status="open")
    assert approx(position.quantity, "0.125", "0.0002")
    assert (position.stop_loss_price, position.take_profit_price) == (Decimal(38000), Decimal(46000))
    assert position.protection_mode == "exchange" and position.stop_loss_order_id and position.take_profit_order_id

    maj = live_alerts.send(
        {"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "PrixTP": "47000", "Prix": "40000"}
    )
    assert maj.status == "processed", maj.error_message
    live = Order.objects.filter(position=position, status="open")
    assert {(o.kind, o.stop_price or o.price) for o in live} == {
        ("stop_loss", Decimal(39000)),
        ("take_profit", Decimal(47000)),
    }

    simulator_thread.control("price", {"symbol": "BTCUSDT", "last": "44000"})
    sell = live_alerts.send({"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "44000"})
    assert sell.status == "processed", sell.error_message
    position.refresh_from_db()
    assert position.status == "closed"
    assert Decimal(480) < position.realized_pnl < Decimal(500)
    accepted = [o for o in simulator_thread.orders() if o.get("side") == "BUY"]
    assert len(accepted) == 1


def test_stop_loss_held_by_binance_closes_the_position_when_the_price_falls(live_alerts, simulator_thread):
    live_alerts.send(BUY_BODY)

    simulator_thread.control("price", {"symbol": "BTCUSDT", "last": "38100", "low": "37990", "high": "38200"})
    assert live_alerts.engine.passes.due()  # the engine's periodic look at live orders
    live_alerts.engine.passes.wait(30)  # it runs on its own thread

    position = WebhookState.objects.get()
    assert position.status == "closed" and position.realized_pnl < 0
    assert Order.objects.get(position=position, kind="stop_loss").status == "filled"
    assert Order.objects.get(position=position, kind="take_profit").status in ("canceled", "expired")


def test_protection_cancelled_on_the_exchange_by_hand_is_placed_again(live_alerts, simulator_thread):
    live_alerts.send(BUY_BODY)
    position = WebhookState.objects.get()
    stop = Order.objects.get(position=position, kind="stop_loss")
    live_alerts.engine.gateway.cancel_order(position.broker_id, symbol="BTC/USDT", client_order_id=stop.client_order_id)

    assert live_alerts.engine.passes.due()
    live_alerts.engine.passes.wait(30)

    position.refresh_from_db()
    live = Order.objects.filter(position=position, status="open")
    assert {o.kind for o in live} == {"stop_loss", "take_profit"}
    assert stop.client_order_id not in {o.client_order_id for o in live}
    assert position.protection_mode == "exchange"


def test_timeout_after_binance_accepted_the_order_yields_exactly_one_order(live_alerts, simulator_thread, settings):
    settings.EXCHANGE_TIMEOUT_SECONDS = 1
    simulator_thread.control("faults", {"timeout_after_accept": 1, "timeout_hold_ms": 3000})

    webhook = live_alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})

    assert webhook.status == "processed", webhook.error_message
    buys = [o for o in simulator_thread.orders() if o.get("side") == "BUY"]
    assert len(buys) == 1
    assert Order.objects.get(kind="entry").status == "filled"


def test_rate_limit_is_backed_off_and_then_succeeds(live_alerts, simulator_thread):
    live_alerts.engine.gateway.markets(live_alerts.broker.pk)  # markets loaded before the fault
    simulator_thread.control("faults", {"rate_limit": 1, "retry_after": 1})

    webhook = live_alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})

    assert webhook.status == "processed", webhook.error_message
    assert len([o for o in simulator_thread.orders() if o.get("side") == "BUY"]) == 1


def test_insufficient_balance_rejection_is_recorded_with_the_exchanges_reason_and_not_retried(
    live_alerts, simulator_thread
):
    live_alerts.engine.gateway.markets(live_alerts.broker.pk)
    simulator_thread.control("faults", {"insufficient_balance": 1})

    webhook = live_alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})

    assert webhook.status == "error"
    assert "insufficient balance" in webhook.error_message.lower()
    assert "Account has insufficient balance" in webhook.error_message
    assert Order.objects.get(kind="entry").status == "rejected"
    assert simulator_thread.orders() == []


def test_wrong_secret_is_an_authentication_error_naming_the_broker(live_alerts, binance_broker):
    binance_broker.set_credentials(api_secret="not-the-secret")
    binance_broker.save()
    Broker.objects.filter(pk=binance_broker.pk).update(name="My Binance")

    webhook = live_alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})

    assert webhook.status == "error"
    assert "API keys" in webhook.error_message and "My Binance" in webhook.error_message
    assert "not-the-secret" not in webhook.error_message


def test_connection_test_reads_the_balance_with_the_brokers_keys(gateway, binance_broker):
    result = gateway.test_connection(binance_broker.pk)

    assert result["ok"] is True and result["balances"] == {"USDT": "10000"}


def test_connection_test_with_a_wrong_secret_names_the_broker_and_hides_the_secret(gateway, binance_broker):
    from trading.errors import AuthenticationFailed

    binance_broker.set_credentials(api_secret="wrong-secret-value")
    binance_broker.save()

    with pytest.raises(AuthenticationFailed) as refused:
        gateway.test_connection(binance_broker.pk)

    assert "Binance sim" in str(refused.value) and "wrong-secret-value" not in str(refused.value)


def test_engine_test_mode_sends_a_live_brokers_orders_to_the_paper_exchange(redis_client, gateway_service, alice):
    from apps.brokers.models import PaperOrder
    from apps.core.gateway_client import GatewayClient
    from apps.webhooks.engine.consumer import TradingEngine
    from tests.engine.conftest import AlertSender

    live = Broker(user=alice, name="Real", exchange="binance", type_de_trading="Webhooks", is_default=True)
    live.api_base_url = "http://127.0.0.1:9"  # nothing listens: a real call would fail
    live.save()
    engine = TradingEngine(
        redis_client, GatewayClient(redis_client, timeout_seconds=5, force_paper=True), consumer="t", threads=1
    )
    engine.start()

    webhook = AlertSender(redis_client, engine, alice, live).send(BUY_BODY)

    assert webhook.status == "processed", webhook.error_message
    assert eventually(lambda: PaperOrder.objects.filter(account__broker=live).count() == 3)  # entry, SL, TP
