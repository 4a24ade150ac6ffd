"""No list costs more queries for 20 rows than for one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _grow_webhooks(make, alice, broker, n):
    for _ in range(n):
        make.webhook(alice, broker)


def _grow_positions(make, alice, broker, n):
    for _ in range(n):
        make.position(alice, make.broker(alice, f"B{make.sequence}-{_}"), symbol="BTC/USDT")
        make.sequence += 1


def _grow_orders(make, alice, broker, n):
    for _ in range(n):
        make.order(alice, broker)


def _grow_brokers(make, alice, broker, n):
    for _ in range(n):
        make.sequence += 1
        make.broker(alice, f"Broker {make.sequence}")


def _grow_tokens(make, alice, broker, n):
    for _ in range(n):
        make.token(alice)


GROWERS: dict[str, Callable[..., None]] = {
    "/api/webhooks/": _grow_webhooks,
    "/api/webhooks/recent/": _grow_webhooks,
    "/api/webhook-states/": _grow_positions,
    "/api/webhook-states/open/": _grow_positions,
    "/api/orders/": _grow_orders,
    "/api/brokers/": _grow_brokers,
    "/api/webhook-tokens/": _grow_tokens,
}


def _queries(api: Any, path: str, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = api.get(path)
    body = answer.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert answer.status_code == 200 and len(rows) == expected_rows, body
    return len(queries)


@pytest.mark.parametrize("path", list(GROWERS))
def test_a_page_of_20_costs_the_same_queries_as_a_page_of_1(path, alice, make, client_for) -> None:
    broker = make.broker(alice, "Main")
    api = client_for(alice)
    grow = GROWERS[path]
    if path != "/api/brokers/":
        grow(make, alice, broker, 1)
    one = _queries(api, path, 1)
    grow(make, alice, broker, 19)
    twenty = _queries(api, path, 20)

    assert twenty == one


def test_an_alert_with_many_orders_costs_the_same_queries_as_with_one(alice, make, client_for) -> None:
    broker = make.broker(alice)
    webhook = make.webhook(alice, broker)
    api = client_for(alice)
    make.order(alice, broker, webhook=webhook)
    with CaptureQueriesContext(connection) as one:
        assert len(api.get(f"/api/webhooks/{webhook.pk}/").json()["orders"]) == 1
    for _ in range(19):
        make.order(alice, broker, webhook=webhook)
    with CaptureQueriesContext(connection) as twenty:
        assert len(api.get(f"/api/webhooks/{webhook.pk}/").json()["orders"]) == 20

    assert len(twenty) == len(one)
