"""Where the exchange cannot hold a stop-loss or take-profit, the engine guards it from prices."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.webhooks.engine.guard import positions_guard
from apps.webhooks.models import Order, WebhookState
from tests.engine.conftest import BUY_BODY

pytestmark = pytest.mark.integration


def _engine_guarded_position(alerts) -> WebhookState:
    alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})
    position = WebhookState.objects.get(status="open")
    position.protection_mode = "engine"
    position.stop_loss_price = Decimal(38000)
    position.take_profit_price = Decimal(46000)
    position.save()
    return position


def test_guarded_stop_crossed_by_a_candle_low_closes_the_position_with_a_market_sell(alerts):
    position = _engine_guarded_position(alerts)
    alerts.engine.gateway.price_update(symbol="BTC/USDT", last="37990")

    closed = positions_guard(alerts.engine.gateway, symbol="BTC/USDT", low=Decimal(37990), high=Decimal(38100))

    position.refresh_from_db()
    assert closed == 1 and position.status == "closed"
    exit_order = Order.objects.get(position=position, kind="stop_loss")
    assert exit_order.type == "market" and exit_order.status == "filled"
    assert position.realized_pnl < 0


def test_guard_leaves_positions_whose_prices_were_not_crossed(alerts):
    position = _engine_guarded_position(alerts)

    closed = positions_guard(alerts.engine.gateway, symbol="BTC/USDT", low=Decimal(39000), high=Decimal(45000))

    position.refresh_from_db()
    assert closed == 0 and position.status == "open"


def test_an_alert_price_crossing_a_guarded_target_closes_the_position_first(live_alerts, simulator_thread):
    position = _engine_guarded_position(live_alerts)
    simulator_thread.control("price", {"symbol": "BTCUSDT", "last": "46500"})

    webhook = live_alerts.send({"Symbol": "BTCUSDT", "Action": "PING", "Close": "46500"})

    position.refresh_from_db()
    assert webhook.status == "processed"
    assert position.status == "closed" and position.realized_pnl > 0
    assert Order.objects.get(position=position, kind="take_profit", type="market").status == "filled"


def test_a_limit_alerts_price_never_fires_the_engine_guard(live_alerts, simulator_thread):
    position = _engine_guarded_position(live_alerts)  # stop at 38,000, the market at 40,000

    # Buy the dip: a limit far below the market; its Prix is the trader's limit, not a price seen.
    webhook = live_alerts.send({"Symbol": "BTCUSDT", "Action": "BuyLimit", "PourCent": "10", "Prix": "37000"})

    position.refresh_from_db()
    assert webhook.status == "processed", webhook.error_message
    assert position.status == "open"
    assert not Order.objects.filter(position=position, kind="stop_loss").exists()
    assert Order.objects.get(webhook=webhook).status == "open"  # the limit rests


def test_a_market_alerts_prix_still_fires_the_engine_guard(live_alerts, simulator_thread):
    position = _engine_guarded_position(live_alerts)
    simulator_thread.control("price", {"symbol": "BTCUSDT", "last": "46500"})

    webhook = live_alerts.send({"Symbol": "BTCUSDT", "Action": "PING", "Prix": "46500"})

    position.refresh_from_db()
    assert webhook.status == "processed"
    assert position.status == "closed"
