"""Two engine processes on one stream, one active and one standing by: a mixed burst executed
once and in order per broker and symbol, although the active engine is SIGKILLed halfway and the
standby finishes the work."""

from __future__ import annotations

import json
import time

import pytest
import requests

pytestmark = pytest.mark.e2e

PRICES = {
    "BTCUSDT": 40000,
    "ETHUSDT": 2000,
    "SOLUSDT": 150,
    "BNBUSDT": 600,
    "XRPUSDT": 0.6,
    "ADAUSDT": 0.4,
    "DOGEUSDT": 0.1,
    "LTCUSDT": 80,
}


def _sequence(symbol: str) -> list[dict[str, object]]:
    """Open, add, take half, move the protection, close: any reordering makes one of them fail."""
    price = PRICES[symbol]
    return [
        {"Action": "BuyMarket", "PourCent": "3", "Prix": str(price), "PrixSL": str(price * 0.8)},
        {"Action": "BuyMarket", "PourCent": "3", "Prix": str(price)},
        {"Action": "SellMarket", "PourCent": "50", "Prix": str(price)},
        {"Action": "MAJ", "PrixSL": str(price * 0.9), "PrixTP": str(price * 1.2)},
        {"Action": "SellMarket", "PourCent": "100", "Prix": str(price)},
    ]


def test_a_standby_engine_finishes_a_mixed_burst_once_and_in_order_after_the_active_one_is_killed(stack):
    stack.wait_until(lambda: _says(stack, "engine", "is the active engine"), timeout=20, what="engine active")
    stack.start("engine2")
    token = stack.webhook_url.rsplit("/", 1)[1]
    receiver = f"http://127.0.0.1:{stack.receiver_port}/webhook/{token}"
    session = requests.Session()
    sent = 0
    killed_at = None
    for step in range(5):
        if step == 2:
            stack.kill("engine")  # mid-burst, alerts read and not finished included
            killed_at = time.monotonic()
        for symbol in PRICES:
            alert = {
                **_sequence(symbol)[step],
                "Symbol": symbol,
                "ID": f"{symbol}-{step}",
                "UserExchangeID": stack.broker_id,
            }
            assert session.post(receiver, data=json.dumps(alert), timeout=5).status_code == 200
            sent += 1
    assert killed_at is not None
    stack.wait_until(lambda: _says(stack, "engine2", "is the active engine"), timeout=3, what="the standby taking over")

    stack.wait_until(
        lambda: _count(stack, "status IN ('processed', 'error')") == sent, timeout=60, what="every alert handled"
    )
    errors = stack.database.rows("SELECT action, symbol, error_message FROM webhooks_webhook WHERE status='error'")
    assert errors == [], errors
    assert _count(stack, "1=1") == sent, "one Webhook row per alert"
    doubled = stack.database.rows(
        "SELECT webhook_id FROM webhooks_order WHERE kind IN ('entry', 'exit') GROUP BY webhook_id HAVING count(*) > 1"
    )
    assert doubled == []
    orders = stack.database.rows(
        "SELECT o.symbol, w.stream_id FROM webhooks_order o JOIN webhooks_webhook w ON w.id = o.webhook_id "
        "WHERE o.kind IN ('entry', 'exit') ORDER BY o.id"
    )
    assert len(orders) == 4 * len(PRICES)
    for symbol in PRICES:
        created = [stream_id for order_symbol, stream_id in orders if order_symbol == symbol]
        assert created == sorted(created, key=lambda entry: tuple(int(part) for part in entry.split("-")))
    assert stack.database.rows("SELECT count(*) FROM webhooks_webhookstate WHERE status='open'") == [(0,)]


def _says(stack, name: str, text: str) -> bool:
    path = stack.tmp / f"{name}.log"
    return path.exists() and text in path.read_text()


def _count(stack, where: str) -> int:
    return int(stack.database.rows(f"SELECT count(*) FROM webhooks_webhook WHERE {where}")[0][0])
