"""Every endpoint answers with its published fields on data made by the real engine and paper gateway."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.brokers.models import Broker
from apps.webhooks.api.serializers import POSITION_FIELDS, WEBHOOK_FIELDS
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import BUY_BODY, eventually

pytestmark = pytest.mark.integration

SECRET = "abt_this-token-must-never-be-shown-0123456789"
ORDER_KEYS = {"id", "client_order_id", "exchange_order_id", "kind", "side", "type", "amount", "status", "webhook"}


@pytest.fixture
def traded(alerts):
    """Alice's alerts through the engine: a protected buy, a MAJ, half sold, a PING, a bad one."""
    buy = alerts.send({**BUY_BODY, "Token": SECRET, "Interval": "5", "Exchange": "BINANCE"})
    maj = alerts.send({"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "PrixTP": "47000", "Prix": "40000"})
    sell = alerts.send({"Symbol": "BTC/USDT", "Action": "SellMarket", "PourCent": "50", "Prix": "40000"})
    ping = alerts.send({"Symbol": "ETHUSDT", "Action": "PING", "Prix": "2000"})
    bad = alerts.send({"Symbol": "BTCUSDT", "Action": "BuyMarket", "PourCent": "250"})
    assert [w.status for w in (buy, maj, sell, ping)] == ["processed"] * 4, [buy.error_message, sell.error_message]
    assert bad.status == "error"
    assert eventually(lambda: WebhookState.objects.filter(status="open").exists())
    return {"buy": buy, "maj": maj, "sell": sell, "ping": ping, "bad": bad}


def test_every_endpoint_answers_with_its_fields_on_pipeline_data(traded, alice, charlie, client_for) -> None:
    api = client_for(alice)
    broker = Broker.objects.get(user=alice)
    position = WebhookState.objects.get(status="open")

    page = api.get("/api/webhooks/").json()
    assert page["count"] == 5 and len(page["results"]) == 5
    assert all(list(row) == list(WEBHOOK_FIELDS) for row in page["results"])
    newest = page["results"][0]
    assert newest["id"] == traded["bad"].pk and newest["status"] == "error" and "PourCent" in newest["error_message"]
    buy = next(row for row in page["results"] if row["id"] == traded["buy"].pk)
    assert buy["user"] == alice.pk and buy["user_username"] == "alice"
    assert buy["broker"] == broker.pk and buy["broker_name"] == "Paper" and buy["exchange_name"] == "paper"
    assert (buy["symbol"], buy["exchange"], buy["interval"], buy["action"]) == ("BTCUSDT", "BINANCE", "5", "BuyMarket")
    assert (buy["prix"], buy["prix_sl"], buy["prix_tp"], buy["pour_cent"]) == ("40000", "38000", "46000", "50")
    assert buy["order_id"] == Order.objects.get(webhook_id=buy["id"], kind="entry").exchange_order_id
    assert buy["received_at"] and buy["processed_at"]
    assert buy["raw_payload"]["Symbol"] == "BTCUSDT"
    assert SECRET not in str(page) and "Token" not in buy["raw_payload"]

    detail = api.get(f"/api/webhooks/{traded['buy'].pk}/").json()
    assert list(detail) == [*WEBHOOK_FIELDS, "orders"]
    assert [o["kind"] for o in detail["orders"]] == ["entry"]
    assert all(set(o) >= ORDER_KEYS and o["webhook"] == traded["buy"].pk for o in detail["orders"])
    assert SECRET not in str(detail)

    recent = api.get("/api/webhooks/recent/", {"broker_id": broker.pk}).json()
    assert [row["id"] for row in recent] == [traded[k].pk for k in ("ping", "sell", "maj", "buy")]

    stats = api.get("/api/webhooks/stats/", {"period": "24h"}).json()
    assert stats["total_webhooks"] == 5 and stats["processed"] == 4 and stats["errors"] == 1
    assert stats["received"] == stats["processing"] == stats["missed"] == 0
    assert stats["actions_breakdown"]["BuyMarket"] == 2 and stats["actions_breakdown"]["PING"] == 1
    assert stats["success_rate"] == 80.0
    assert stats["last_webhook_time"] == newest["received_at"]
    assert set(stats) >= {"period_start", "period_end"}

    states = api.get("/api/webhook-states/").json()
    assert states["count"] == 1 and list(states["results"][0]) == list(POSITION_FIELDS)
    row = states["results"][0]
    assert row["id"] == position.pk and row["symbol"] == "BTC/USDT" and row["status"] == "open"
    assert Decimal(row["quantity"]) == position.quantity and Decimal(row["realized_pnl"]) == position.realized_pnl
    assert row["stop_loss_price"] == "39000" and row["take_profit_price"] == "47000"
    assert row["stop_loss_order_id"] == position.stop_loss_order_id and row["broker_name"] == "Paper"
    assert api.get(f"/api/webhook-states/{position.pk}/").json() == row
    assert api.get("/api/webhook-states/open/").json() == [row]
    summary = api.get("/api/webhook-states/summary/").json()
    assert summary == {
        "open_positions_count": 1,
        "total_unrealized_pnl": row["unrealized_pnl"],
        "active_symbols": ["BTC/USDT"],
    }

    orders = api.get("/api/orders/", {"webhook": traded["sell"].pk}).json()["results"]
    assert [o["kind"] for o in orders] == ["exit"]
    assert all(o["position"] == position.pk and o["broker_name"] == "Paper" for o in orders)
    everything = api.get("/api/orders/", {"position": position.pk, "page_size": 100}).json()
    assert everything["count"] == Order.objects.filter(position=position).count()
    one = everything["results"][0]
    assert api.get(f"/api/orders/{one['id']}/").json() == one

    brokers = api.get("/api/brokers/").json()["results"]
    assert brokers[0]["id"] == broker.pk and brokers[0]["has_api_key"] is False
    connection = api.post(f"/api/brokers/{broker.pk}/test-connection/")
    assert connection.status_code == 200 and connection.json()["ok"] is True
    balance = api.get(f"/api/brokers/{broker.pk}/balance/").json()
    usdt = next(line for line in balance["balances"] if line["currency"] == "USDT")
    assert Decimal(usdt["total"]) > 0 and Decimal(usdt["free"]) <= Decimal(usdt["total"])
    btc = next(line for line in balance["balances"] if line["currency"] == "BTC")
    assert Decimal(btc["total"]) == position.quantity

    # The stranger sees none of it.
    stranger = client_for(charlie)
    assert stranger.get("/api/webhooks/").json()["count"] == 0
    assert stranger.get(f"/api/webhooks/{traded['buy'].pk}/").status_code == 404
    assert stranger.get("/api/orders/").json()["count"] == 0
    assert stranger.get(f"/api/brokers/{broker.pk}/balance/").status_code == 404
    assert Webhook.objects.count() == 5
