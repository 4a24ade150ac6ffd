"""Alerts of one symbol run in the order they arrived, even when one of them has to wait."""

from __future__ import annotations

import time

import pytest

from apps.webhooks.engine import execution
from apps.webhooks.models import Webhook, WebhookState
from tests.engine.conftest import BUY_BODY
from trading.errors import TemporaryError

pytestmark = pytest.mark.integration


def test_an_alert_that_must_wait_holds_back_later_alerts_of_its_symbol_but_not_of_others(alerts, monkeypatch):
    real_buy = execution.AlertExecutor._buy
    calls = {"btc": 0}

    def buy_fails_once_for_btc(self, webhook, alert, broker, market, *, fresh):
        if alert.symbol == "BTCUSDT" and calls["btc"] == 0:
            calls["btc"] += 1
            raise TemporaryError("the exchange is busy")
        return real_buy(self, webhook, alert, broker, market, fresh=fresh)

    monkeypatch.setattr(execution.AlertExecutor, "_buy", buy_fails_once_for_btc)
    buy_btc = alerts.add(BUY_BODY)
    sell_btc = alerts.add({"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "40000"})
    buy_eth = alerts.add({**BUY_BODY, "Symbol": "ETHUSDT", "Prix": "2000", "PrixSL": "1900", "PrixTP": "2100"})

    alerts.engine.step(block_ms=20)

    assert Webhook.objects.get(stream_id=buy_eth).status == "processed"
    assert Webhook.objects.get(stream_id=buy_btc).status == "processing"
    held = Webhook.objects.get(stream_id=sell_btc)  # recorded at once, but held back: not run out of order
    assert held.status == "processing" and not held.orders.exists()

    deadline = time.monotonic() + 5
    while Webhook.objects.filter(stream_id=sell_btc, status="processed").count() == 0 and time.monotonic() < deadline:
        alerts.engine.step(block_ms=20)

    assert Webhook.objects.get(stream_id=buy_btc).status == "processed"
    assert Webhook.objects.get(stream_id=sell_btc).status == "processed"
    assert WebhookState.objects.get(symbol="BTC/USDT").status == "closed"
    assert WebhookState.objects.get(symbol="ETH/USDT").status == "open"
