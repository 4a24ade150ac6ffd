"""The whole pipeline as a trader uses it: HTTP alerts into the real receiver, engine and gateway."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from tests.engine.conftest import BUY_BODY

pytestmark = pytest.mark.e2e


def _post(stack, alert: dict) -> requests.Response:
    token = stack.webhook_url.rsplit("/", 1)[1]
    body = json.dumps({"Token": token, "UserExchangeID": stack.broker_id, **alert})
    receiver = f"http://127.0.0.1:{stack.receiver_port}/webhook"
    return requests.post(receiver, data=body, headers={"Content-Type": "text/plain"}, timeout=5)


def _webhooks(stack):
    return stack.database.rows("SELECT id, action, status, error_message FROM webhooks_webhook ORDER BY id")


def _all_settled(stack, count: int) -> bool:
    rows = _webhooks(stack)
    return len(rows) == count and all(row[2] in ("processed", "error") for row in rows)


def test_text_plain_alert_with_token_in_body_opens_a_protected_position_then_maj_and_sell_close_it(stack):
    buy = BUY_BODY
    answer = _post(stack, buy)
    assert answer.status_code == 200 and answer.json()["status"] == "received"
    stack.wait_until(lambda: _all_settled(stack, 1), timeout=5, what="the buy")

    assert _webhooks(stack)[0][2] == "processed", _webhooks(stack)
    ((quantity, stop, take, mode),) = stack.database.rows(
        "SELECT quantity, stop_loss_price, take_profit_price, protection_mode FROM webhooks_webhookstate WHERE status='open'"
    )
    assert abs(Decimal(str(quantity)) - Decimal("0.125")) < Decimal("0.0002")
    assert (Decimal(str(stop)), Decimal(str(take)), mode) == (Decimal(38000), Decimal(46000), "exchange")

    _post(stack, {"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "PrixTP": "47000", "Prix": "40000"})
    stack.wait_until(lambda: _all_settled(stack, 2), timeout=5, what="the MAJ")
    ((stop, take),) = stack.database.rows("SELECT stop_loss_price, take_profit_price FROM webhooks_webhookstate")
    assert (Decimal(str(stop)), Decimal(str(take))) == (Decimal(39000), Decimal(47000))

    _post(stack, {"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "44000"})
    stack.wait_until(lambda: _all_settled(stack, 3), timeout=5, what="the sell")
    assert [row[2] for row in _webhooks(stack)] == ["processed"] * 3, _webhooks(stack)
    ((status, realized),) = stack.database.rows("SELECT status, realized_pnl FROM webhooks_webhookstate")
    assert status == "closed"
    assert Decimal(480) < Decimal(str(realized)) < Decimal(500)


def test_same_alert_delivered_four_times_within_15_seconds_executes_once(stack):
    buy = {
        "Symbol": "ETHUSDT",
        "Action": "BuyMarket",
        "PourCent": "10",
        "Prix": "2000",
        "BarTime": "2026-11-24T10:00:00Z",
    }
    for _ in range(4):
        assert _post(stack, buy).status_code == 200
    stack.wait_until(lambda: _all_settled(stack, 4), timeout=10, what="four deliveries")

    assert sorted(row[2] for row in _webhooks(stack)) == ["error", "error", "error", "processed"]
    assert stack.database.rows("SELECT count(*) FROM webhooks_order WHERE kind='entry'") == [(1,)]
    # The paper exchange saves its orders just behind its answers.
    stack.wait_until(lambda: stack.database.rows("SELECT count(*) FROM brokers_paperorder") == [(1,)], timeout=5)
