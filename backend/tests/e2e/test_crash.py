"""An engine killed with SIGKILL in the middle of a stream of alerts loses none and doubles none."""

from __future__ import annotations

import json
import time

import pytest
import requests

pytestmark = pytest.mark.e2e

SYMBOLS = {"BTCUSDT": "40000", "ETHUSDT": "2000", "SOLUSDT": "150", "BNBUSDT": "600", "XRPUSDT": "0.6"}


def test_engine_killed_mid_stream_and_restarted_loses_no_alert_and_doubles_none(stack):
    token = stack.webhook_url.rsplit("/", 1)[1]
    receiver = f"http://127.0.0.1:{stack.receiver_port}/webhook/{token}"
    session = requests.Session()
    total = 60
    for n in range(total):
        symbol, price = list(SYMBOLS.items())[n % len(SYMBOLS)]
        alert = {
            "Symbol": symbol,
            "Action": "BuyMarket",
            "PourCent": "1",
            "Prix": price,
            "BarTime": f"2026-11-24T10:{n:02d}:00Z",
            "UserExchangeID": stack.broker_id,
        }
        assert session.post(receiver, data=json.dumps(alert), timeout=5).status_code == 200
        if n == 20:
            stack.wait_until(lambda: _count(stack, "status='processed'") >= 5, timeout=10, what="some alerts processed")
            stack.kill("engine")
            killed_at = _count(stack, "status='processed'")
        time.sleep(0.005)
    assert 0 < killed_at < total
    stack.start("engine")
    stack.wait_until(lambda: _count(stack, "status='processed'") == total, timeout=30, what="every alert processed")

    assert _count(stack, "1=1") == total, "one Webhook row per alert"
    duplicates = stack.database.rows(
        "SELECT webhook_id, count(*) FROM webhooks_order WHERE kind='entry' GROUP BY webhook_id HAVING count(*) > 1"
    )
    assert duplicates == []
    assert stack.database.rows("SELECT count(*) FROM webhooks_order WHERE kind='entry' AND status='filled'") == [
        (total,)
    ]
    count = "SELECT count(*) FROM brokers_paperorder"
    stack.wait_until(lambda: stack.database.rows(count)[0][0] >= total, timeout=5, what="the paper orders saved")
    paper_buys = stack.database.rows("SELECT client_order_id FROM brokers_paperorder")
    assert len(paper_buys) == total
    recorded = {row[0] for row in stack.database.rows("SELECT client_order_id FROM webhooks_order")}
    assert {row[0] for row in paper_buys} <= recorded


def _count(stack, where: str) -> int:
    return int(stack.database.rows(f"SELECT count(*) FROM webhooks_webhook WHERE {where}")[0][0])
