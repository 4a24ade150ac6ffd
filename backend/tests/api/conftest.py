"""API fixtures: signed-in clients, objects made directly, and the engine fixtures for pipeline data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.brokers.models import Broker, TypeDeTrading
from apps.webhooks.models import Order, Webhook, WebhookState, WebhookToken

# The engine's fixtures: a real gateway and engine on the test Redis (imported to be used by name).
from tests.engine.conftest import alerts, engine, gateway, gateway_service, paper_broker, redis_client  # noqa: F401
from tests.receiver.conftest import receiver, redis  # noqa: F401

ClientFor = Callable[[Any], APIClient]


@pytest.fixture
def client_for() -> ClientFor:
    """`client_for(user)`: an API client signed in as `user` (a session, as the browser has)."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


class Maker:
    """Rows made directly, for tests that need many or precise ones (the pipeline tests use the engine)."""

    def __init__(self) -> None:
        self.sequence = 0

    def broker(self, user: Any, name: str = "Paper", **fields: Any) -> Broker:
        fields.setdefault("exchange", "paper")
        fields.setdefault("type_de_trading", TypeDeTrading.WEBHOOKS)
        return Broker.objects.create(user=user, name=name, **fields)

    def webhook(self, user: Any, broker: Broker | None, **fields: Any) -> Webhook:
        self.sequence += 1
        fields.setdefault("symbol", "BTCUSDT")
        fields.setdefault("action", "BuyMarket")
        fields.setdefault("status", "processed")
        fields.setdefault("received_at", timezone.now() - timedelta(seconds=self.sequence))
        fields.setdefault("raw_payload", {"Symbol": fields["symbol"], "Action": fields["action"]})
        return Webhook.objects.create(user=user, broker=broker, **fields)

    def position(self, user: Any, broker: Broker, **fields: Any) -> WebhookState:
        fields.setdefault("symbol", "BTC/USDT")
        fields.setdefault("quantity", Decimal("0.1"))
        fields.setdefault("entry_price", Decimal(40000))
        return WebhookState.objects.create(user=user, broker=broker, **fields)

    def order(self, user: Any, broker: Broker, **fields: Any) -> Order:
        self.sequence += 1
        fields.setdefault("client_order_id", f"test-{self.sequence}")
        fields.setdefault("symbol", "BTC/USDT")
        fields.setdefault("kind", "entry")
        fields.setdefault("side", "buy")
        fields.setdefault("type", "market")
        fields.setdefault("amount", Decimal("0.1"))
        fields.setdefault("status", "filled")
        return Order.objects.create(user=user, broker=broker, **fields)

    def token(self, user: Any, label: str = "") -> WebhookToken:
        record, _plain = WebhookToken.issue(user=user, label=label)
        return record


@pytest.fixture
def make() -> Maker:
    return Maker()


@pytest.fixture
def alice_objects(alice: Any, make: Maker) -> dict[str, Any]:
    """One of each of alice's objects, by kind."""
    broker = make.broker(alice, is_default=True)
    position = make.position(alice, broker)
    webhook = make.webhook(alice, broker)
    order = make.order(alice, broker, webhook=webhook, position=position)
    return {
        "broker": broker,
        "position": position,
        "webhook": webhook,
        "order": order,
        "token": make.token(alice, "alice's"),
    }
