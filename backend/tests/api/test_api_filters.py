"""Every filter really filters, ordering orders, and a bad value is a 400 naming the parameter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _ids(answer) -> list[int]:
    assert answer.status_code == 200, answer.content
    body = answer.json()
    return [row["id"] for row in (body["results"] if isinstance(body, dict) else body)]


@pytest.fixture
def alerts_mix(alice, make):
    """Alice's alerts on two brokers, with different symbols, actions, statuses and ages."""
    paper = make.broker(alice, "Paper")
    other = make.broker(alice, "Other")
    now = timezone.now()
    rows = {
        "recent_buy": make.webhook(alice, paper, symbol="BTCUSDT", received_at=now - timedelta(hours=1)),
        "eth_ping": make.webhook(
            alice, other, symbol="ETH/USDT", action="PING", status="error", received_at=now - timedelta(hours=30)
        ),
        "old_sell": make.webhook(
            alice, paper, symbol="BTC/USDT", action="SellMarket", received_at=now - timedelta(days=10)
        ),
        "ancient_miss": make.webhook(
            alice, other, symbol="ETHUSDT", action="MISS", status="miss", received_at=now - timedelta(days=40)
        ),
    }
    return paper, other, rows


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"symbol": "BTCUSDT"}, ["recent_buy", "old_sell"]),
        ({"symbol": "eth/usdt"}, ["eth_ping", "ancient_miss"]),
        ({"action": "PING"}, ["eth_ping"]),
        ({"action": "SellMarket"}, ["old_sell"]),
        ({"status": "miss"}, ["ancient_miss"]),
        ({"status": "error"}, ["eth_ping"]),
        ({"broker": "paper"}, ["recent_buy", "old_sell"]),
        ({"broker_id": "other"}, ["eth_ping", "ancient_miss"]),
        ({"period": "24h"}, ["recent_buy"]),
        ({"period": "7d"}, ["recent_buy", "eth_ping"]),
        ({"period": "30d"}, ["recent_buy", "eth_ping", "old_sell"]),
        ({"period": "30d", "symbol": "BTCUSDT", "broker": "paper"}, ["recent_buy", "old_sell"]),
        ({"ordering": "received_at"}, ["ancient_miss", "old_sell", "eth_ping", "recent_buy"]),
        ({"ordering": "-received_at"}, ["recent_buy", "eth_ping", "old_sell", "ancient_miss"]),
        ({"ordering": "action,-received_at"}, ["recent_buy", "ancient_miss", "eth_ping", "old_sell"]),
        ({}, ["recent_buy", "eth_ping", "old_sell", "ancient_miss"]),
    ],
)
def test_alert_filters_filter(params, expected, alice, alerts_mix, client_for) -> None:
    paper, other, rows = alerts_mix
    brokers = {"paper": paper.pk, "other": other.pk}
    query = {key: brokers.get(value, value) if key.startswith("broker") else value for key, value in params.items()}

    assert _ids(client_for(alice).get("/api/webhooks/", query)) == [rows[name].pk for name in expected]


def test_recent_and_stats_filter_by_broker_id(alice, alerts_mix, client_for) -> None:
    paper, other, rows = alerts_mix
    api = client_for(alice)

    assert _ids(api.get("/api/webhooks/recent/", {"broker_id": other.pk})) == [
        rows["eth_ping"].pk,
        rows["ancient_miss"].pk,
    ]
    stats = api.get("/api/webhooks/stats/", {"period": "30d", "broker_id": paper.pk}).json()
    assert (stats["total_webhooks"], stats["processed"], stats["errors"]) == (2, 2, 0)
    assert stats["actions_breakdown"]["SellMarket"] == 1 and stats["success_rate"] == 100.0
    week = api.get("/api/webhooks/stats/", {"period": "7d"}).json()
    assert (week["total_webhooks"], week["errors"], week["missed"]) == (2, 1, 0)
    assert week["success_rate"] == 50.0
    assert api.get("/api/webhooks/stats/").json()["total_webhooks"] == 1  # 24h by default


def test_recent_returns_the_last_20(alice, make, client_for) -> None:
    broker = make.broker(alice)
    rows = [make.webhook(alice, broker) for _ in range(25)]  # each older than the one before

    assert _ids(client_for(alice).get("/api/webhooks/recent/")) == [row.pk for row in rows[:20]]


@pytest.fixture
def positions_mix(alice, make):
    paper = make.broker(alice, "Paper")
    other = make.broker(alice, "Other")
    btc = make.position(alice, paper, symbol="BTC/USDT", unrealized_pnl=5, realized_pnl=1)
    eth = make.position(alice, other, symbol="ETH/USDT", unrealized_pnl=-2)
    closed = make.position(alice, paper, symbol="ETH/USDT", status="closed", quantity=0, realized_pnl=7)
    return paper, other, {"btc": btc, "eth": eth, "closed": closed}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"symbol": "BTCUSDT"}, ["btc"]),
        ({"symbol": "ETH/USDT"}, ["closed", "eth"]),
        ({"status": "closed"}, ["closed"]),
        ({"status": "open"}, ["eth", "btc"]),
        ({"broker": "other"}, ["eth"]),
        ({"ordering": "realized_pnl"}, ["eth", "btc", "closed"]),
        ({"ordering": "-unrealized_pnl"}, ["btc", "closed", "eth"]),
        ({"ordering": "id"}, ["btc", "eth", "closed"]),
    ],
)
def test_position_filters_filter(params, expected, alice, positions_mix, client_for) -> None:
    _paper, other, rows = positions_mix
    query = {k: {"other": other.pk}.get(v, v) for k, v in params.items()}

    assert _ids(client_for(alice).get("/api/webhook-states/", query)) == [rows[name].pk for name in expected]


def test_open_positions_and_summary_follow_the_filters(alice, positions_mix, client_for) -> None:
    paper, _other, rows = positions_mix
    api = client_for(alice)

    assert _ids(api.get("/api/webhook-states/open/", {"ordering": "id"})) == [rows["btc"].pk, rows["eth"].pk]
    assert _ids(api.get("/api/webhook-states/open/", {"broker": paper.pk})) == [rows["btc"].pk]
    assert api.get("/api/webhook-states/summary/").json() == {
        "open_positions_count": 2,
        "total_unrealized_pnl": "3",
        "active_symbols": ["BTC/USDT", "ETH/USDT"],
    }
    assert api.get("/api/webhook-states/summary/", {"symbol": "ETHUSDT"}).json()["total_unrealized_pnl"] == "-2"


@pytest.fixture
def orders_mix(alice, make):
    paper = make.broker(alice, "Paper")
    other = make.broker(alice, "Other")
    webhook = make.webhook(alice, paper)
    position = make.position(alice, paper)
    rows = {
        "entry": make.order(alice, paper, webhook=webhook, position=position),
        "stop": make.order(
            alice, paper, kind="stop_loss", side="sell", type="stop_market", status="open", position=position
        ),
        "eth": make.order(alice, other, symbol="ETH/USDT", status="canceled"),
    }
    return paper, other, webhook, position, rows


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"broker": "other"}, ["eth"]),
        ({"symbol": "BTCUSDT"}, ["stop", "entry"]),
        ({"status": "open"}, ["stop"]),
        ({"kind": "stop_loss"}, ["stop"]),
        ({"kind": "entry", "broker": "other"}, ["eth"]),
        ({"webhook": "webhook"}, ["entry"]),
        ({"position": "position"}, ["stop", "entry"]),
        ({"ordering": "created_at"}, ["entry", "stop", "eth"]),
        ({}, ["eth", "stop", "entry"]),
    ],
)
def test_order_filters_filter(params, expected, alice, orders_mix, client_for) -> None:
    _paper, other, webhook, position, rows = orders_mix
    names = {"other": other.pk, "webhook": webhook.pk, "position": position.pk}
    query = {k: names.get(v, v) for k, v in params.items()}

    assert _ids(client_for(alice).get("/api/orders/", query)) == [rows[name].pk for name in expected]


BAD_VALUES = [
    ("/api/webhooks/", "action", "Buy"),
    ("/api/webhooks/", "status", "done"),
    ("/api/webhooks/", "broker", "abc"),
    ("/api/webhooks/", "broker", "99999999999999999999999"),
    ("/api/webhooks/", "broker", "1.5"),
    ("/api/webhooks/", "period", "2d"),
    ("/api/webhooks/", "ordering", "password"),
    ("/api/webhooks/", "symbol", "X" * 41),
    ("/api/webhooks/recent/", "broker_id", "abc"),
    ("/api/webhooks/recent/", "broker_id", "²"),
    ("/api/webhooks/stats/", "period", "1y"),
    ("/api/webhooks/stats/", "broker_id", "-3"),
    ("/api/webhook-states/", "status", "opened"),
    ("/api/webhook-states/", "ordering", "-nope"),
    ("/api/webhook-states/open/", "broker", "x"),
    ("/api/webhook-states/summary/", "status", "x"),
    ("/api/orders/", "status", "partial"),
    ("/api/orders/", "kind", "stop"),
    ("/api/orders/", "webhook", "one"),
    ("/api/orders/", "position", "0"),
]


@pytest.mark.parametrize(("path", "name", "value"), BAD_VALUES)
def test_bad_filter_value_is_a_400_naming_the_parameter(path, name, value, alice, client_for) -> None:
    answer = client_for(alice).get(path, {name: value})

    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert name in body["errors"]
    assert body["message"].startswith(f"{name}: ")


def test_page_past_the_end_is_a_json_404(alice, client_for) -> None:
    answer = client_for(alice).get("/api/webhooks/", {"page": 3})

    assert answer.status_code == 404 and answer.json()["message"] == "Invalid page."


def test_unknown_api_path_is_a_json_404(alice, client_for) -> None:
    answer = client_for(alice).get("/api/no-such-thing/")

    assert answer.status_code == 404 and "no API endpoint" in answer.json()["message"]
