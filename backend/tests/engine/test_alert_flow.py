"""The reference scenario of DESIGN §3 on the paper exchange, through the real gateway."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.webhooks.models import Order, WebhookState
from tests.engine.conftest import BUY_BODY, approx

pytestmark = pytest.mark.integration

BUY = BUY_BODY


def test_buy_market_opens_a_position_of_about_0_125_btc_protected_at_38000_and_46000(alerts):
    webhook = alerts.send(BUY)

    assert webhook.status == "processed", webhook.error_message
    entry = Order.objects.get(webhook=webhook)
    assert entry.status == "filled" and entry.kind == "entry"
    assert webhook.order_id == entry.exchange_order_id
    position = WebhookState.objects.get(status="open")
    assert approx(position.quantity, "0.125", "0.0002")
    assert position.entry_price == Decimal(40000)
    assert position.stop_loss_price == Decimal(38000) and position.take_profit_price == Decimal(46000)
    assert position.stop_loss_order_id and position.take_profit_order_id
    assert position.protection_mode == "exchange"
    protective = Order.objects.filter(position=position, kind__in=["stop_loss", "take_profit"], status="open")
    assert {order.kind for order in protective} == {"stop_loss", "take_profit"}
    assert all(order.amount == position.quantity for order in protective)


def test_maj_replaces_the_stop_loss_and_take_profit(alerts):
    alerts.send(BUY)
    webhook = alerts.send({"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "PrixTP": "47000", "Prix": "40000"})

    assert webhook.status == "processed", webhook.error_message
    position = WebhookState.objects.get(status="open")
    assert position.stop_loss_price == Decimal(39000) and position.take_profit_price == Decimal(47000)
    live = Order.objects.filter(position=position, status="open")
    assert {(o.kind, o.stop_price or o.price) for o in live} == {
        ("stop_loss", Decimal(39000)),
        ("take_profit", Decimal(47000)),
    }
    assert Order.objects.filter(position=position, status="canceled").count() == 2


def test_sell_market_100_at_44000_closes_with_about_500_usdt_profit_less_fees(alerts):
    alerts.send(BUY)
    alerts.send({"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "PrixTP": "47000", "Prix": "40000"})
    alerts.engine.gateway.price_update(symbol="BTC/USDT", last="44000")
    webhook = alerts.send({"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "44000"})

    assert webhook.status == "processed", webhook.error_message
    position = WebhookState.objects.get()
    assert position.status == "closed" and position.quantity == 0 and position.closed_at
    gross = Decimal(4000) * Order.objects.get(kind="exit").filled
    fees = sum(order.fee for order in Order.objects.filter(kind__in=["entry", "exit"]))
    assert approx(position.realized_pnl, str(gross - fees), "0.000001")
    assert Decimal(480) < position.realized_pnl < Decimal(500)
    assert not Order.objects.filter(status="open").exists()


def test_same_alert_body_four_times_executes_once(alerts):
    webhooks = [alerts.send(BUY) for _ in range(4)]

    assert [w.status for w in webhooks] == ["processed", "error", "error", "error"]
    assert all("duplicate" in w.error_message for w in webhooks[1:])
    assert Order.objects.filter(kind="entry").count() == 1


def test_stop_loss_fill_closes_the_position_and_cancels_the_take_profit(alerts):
    alerts.send(BUY)
    alerts.engine.gateway.price_update(symbol="BTC/USDT", last="38100", low="37990", high="40100")
    alerts.drain()

    position = WebhookState.objects.get()
    assert position.status == "closed"
    assert Order.objects.get(kind="stop_loss").status == "filled"
    assert Order.objects.get(kind="take_profit").status == "canceled"
    assert position.realized_pnl < 0


def test_partial_sell_keeps_the_rest_protected(alerts):
    alerts.send(BUY)
    quantity = WebhookState.objects.get().quantity
    webhook = alerts.send({"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "50", "Prix": "42000"})

    assert webhook.status == "processed", webhook.error_message
    position = WebhookState.objects.get()
    assert position.status == "open" and 0 < position.quantity < quantity
    live = Order.objects.filter(position=position, status="open")
    assert {o.kind for o in live} == {"stop_loss", "take_profit"}
    assert all(o.amount == position.quantity for o in live)
    assert position.realized_pnl > 0


def test_buy_limit_rests_then_fills_when_price_crosses_and_gets_protected(alerts):
    webhook = alerts.send({**BUY, "Action": "BuyLimit", "Prix": "39000"})
    alerts.engine.gateway.price_update(symbol="BTC/USDT", last="40000")
    alerts.drain()

    assert webhook.status == "processed", webhook.error_message
    assert Order.objects.get(kind="entry").status == "open"
    assert not WebhookState.objects.exists()

    alerts.engine.gateway.price_update(symbol="BTC/USDT", last="39100", low="38950", high="40000")
    alerts.drain()
    position = WebhookState.objects.get(status="open")
    assert position.entry_price == Decimal(39000)
    assert Order.objects.filter(position=position, status="open").count() == 2


def test_second_buy_grows_the_position_at_the_average_price_and_reprotects_all_of_it(alerts):
    alerts.send(BUY)
    alerts.engine.gateway.price_update(symbol="BTC/USDT", last="42000")
    alerts.send({**BUY, "Prix": "42000", "PourCent": "100", "BarTime": "2026-11-24T10:05:00Z"})

    position = WebhookState.objects.get(status="open")
    assert Decimal(40000) < position.entry_price < Decimal(42000)
    live = Order.objects.filter(position=position, status="open")
    assert len(live) == 2 and all(o.amount == position.quantity for o in live)


def test_the_same_body_again_after_the_window_is_executed_again(alerts):
    import json
    import uuid
    from datetime import UTC, datetime, timedelta

    from apps.core.streams import WEBHOOK_RAW, RawAlert
    from apps.webhooks.models import Webhook

    body = json.dumps({"UserExchangeID": alerts.broker.pk, **BUY, "PourCent": "10"})
    first_time = datetime.now(UTC) - timedelta(seconds=120)
    for moment in (first_time, datetime.now(UTC)):
        raw = RawAlert(body=body, received_at=moment.isoformat(), trace_id=uuid.uuid4().hex, user_id=alerts.user.pk)
        alerts.redis.xadd(WEBHOOK_RAW, raw.to_fields())
    alerts.drain()

    assert [w.status for w in Webhook.objects.order_by("id")] == ["processed", "processed"]
