"""The stranger test and the signed-out test, over every endpoint of the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from apps.brokers.models import Broker
from apps.webhooks.models import Order, Webhook, WebhookState, WebhookToken

from .endpoints import CREATES, DOC_PAGES, ENDPOINTS, LISTS, OBJECTS, PRIVATE, Endpoint

pytestmark = pytest.mark.django_db

MODELS: dict[str, Any] = {
    "broker": Broker,
    "webhook": Webhook,
    "position": WebhookState,
    "order": Order,
    "token": WebhookToken,
}


def _call(client: Any, endpoint: Endpoint, path: str | None = None) -> Any:
    method = getattr(client, endpoint.method.lower())
    return method(path or endpoint.path, endpoint.body or None, format="json")


def _snapshot(objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kind: model_to_dict(MODELS[kind].objects.get(pk=obj.pk)) for kind, obj in objects.items()}


def test_every_endpoint_is_listed_for_the_isolation_tests() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    in_schema = {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}

    assert in_schema == {endpoint.key for endpoint in ENDPOINTS}


def test_every_route_under_api_is_listed_for_the_isolation_tests() -> None:
    """Also views outside the schema: every route of api_urls is an endpoint above or a doc page."""
    routes = set()
    for pattern in _flatten(get_resolver("aristobot.api_urls").url_patterns):
        if pattern in (".*$", "^.*$"):  # the JSON 404 for anything else
            continue
        routes.add("/api/" + re.sub(r"\(\?P<pk>[^)]*\)|<pk>", "{id}", pattern).lstrip("^").rstrip("$"))

    assert routes == {e.path for e in ENDPOINTS} | set(DOC_PAGES)


def _flatten(patterns: list[Any], prefix: str = "") -> list[str]:
    flat: list[str] = []
    for item in patterns:
        if isinstance(item, URLResolver):
            flat += _flatten(item.url_patterns, prefix + str(item.pattern).lstrip("^"))
        else:
            flat.append(prefix + str(item.pattern).lstrip("^"))
    return flat


@pytest.mark.parametrize("endpoint", LISTS, ids=lambda e: e.key)
def test_stranger_sees_empty_lists(endpoint: Endpoint, charlie, alice_objects, client_for) -> None:
    answer = _call(client_for(charlie), endpoint)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    if endpoint.results == "page":
        assert body["count"] == 0 and body["results"] == []
    elif endpoint.results == "plain":
        assert body == []
    elif endpoint.results == "stats":
        assert body["total_webhooks"] == 0 and body["last_webhook_time"] is None
    else:
        assert body == {"open_positions_count": 0, "total_unrealized_pnl": "0", "active_symbols": []}


BROKER_FILTERED = [
    e for e in LISTS if e.results in ("page", "plain") and "/brokers" not in e.path and "tokens" not in e.path
]


@pytest.mark.parametrize("endpoint", BROKER_FILTERED, ids=lambda e: e.key)
def test_stranger_filtering_by_alices_broker_sees_nothing(
    endpoint: Endpoint, charlie, alice_objects, client_for
) -> None:
    broker_id = alice_objects["broker"].pk
    name = "broker_id" if endpoint.path.endswith("recent/") else "broker"
    answer = client_for(charlie).get(endpoint.path, {name: broker_id})

    assert answer.status_code == 200
    body = answer.json()
    assert (body["results"] if endpoint.results == "page" else body) == []


@pytest.mark.parametrize("endpoint", OBJECTS, ids=lambda e: e.key)
def test_stranger_gets_404_for_alices_objects_and_changes_nothing(
    endpoint: Endpoint, charlie, alice_objects, client_for, redis_url
) -> None:
    before = _snapshot(alice_objects)
    target = alice_objects[endpoint.kind]

    answer = _call(client_for(charlie), endpoint, endpoint.path.format(id=target.pk))

    assert answer.status_code == 404, answer.content
    assert "message" in answer.json()
    assert _snapshot(alice_objects) == before


@pytest.mark.parametrize("endpoint", CREATES, ids=lambda e: e.key)
def test_stranger_creates_only_for_himself(endpoint: Endpoint, alice, charlie, alice_objects, client_for, redis_url):
    before = _snapshot(alice_objects)

    answer = _call(client_for(charlie), endpoint)

    assert answer.status_code == 201, answer.content
    model = Broker if "brokers" in endpoint.path else WebhookToken
    assert model.objects.get(pk=answer.json()["id"]).user == charlie
    assert _snapshot(alice_objects) == before
    assert client_for(alice).get(endpoint.path).json()["count"] == 1  # still only her own


def test_stranger_gets_404_for_alices_webhook_with_its_orders(charlie, alice_objects, client_for) -> None:
    answer = client_for(charlie).get("/api/orders/", {"webhook": alice_objects["webhook"].pk})

    assert answer.json()["results"] == []


@pytest.mark.parametrize("endpoint", PRIVATE, ids=lambda e: e.key)
def test_signed_out_gets_a_json_403(endpoint: Endpoint, anonymous, alice_objects) -> None:
    target = alice_objects.get(endpoint.kind)
    path = endpoint.path.format(id=target.pk) if target is not None else endpoint.path
    before = _snapshot(alice_objects)

    answer = _call(anonymous, endpoint, path)

    assert answer.status_code in (401, 403)
    assert answer["Content-Type"].startswith("application/json")
    assert answer.json()["message"]
    assert _snapshot(alice_objects) == before
