"""Brokers: CRUD with write-only credentials, one default, unique names, live checks via the gateway."""

from __future__ import annotations

import time

import pytest

from apps.brokers.credentials import credential_decrypt
from apps.brokers.models import Broker
from tests.engine.conftest import SIM_KEY, simulator_thread  # noqa: F401
from tests.receiver.helpers import closed_port

pytestmark = pytest.mark.django_db

NEW = {
    "name": "Binance main",
    "exchange": "binance",
    "api_key": "my-key",
    "api_secret": "my-secret",
    "is_testnet": True,
    "type_de_trading": "Webhooks",
}


def test_create_stores_credentials_encrypted_and_never_returns_them(alice, client_for) -> None:
    answer = client_for(alice).post("/api/brokers/", NEW, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["has_api_key"], body["has_api_secret"], body["has_api_password"]) == (True, True, False)
    assert "my-key" not in answer.content.decode() and "my-secret" not in answer.content.decode()
    assert not {"api_key", "api_secret", "api_password", "api_key_encrypted"} & set(body)
    broker = Broker.objects.get(pk=body["id"])
    assert broker.user == alice and broker.is_testnet and broker.type_de_trading == "Webhooks"
    assert broker.api_key_encrypted != "my-key"
    assert credential_decrypt(broker.api_key_encrypted, broker_label="t") == "my-key"
    listed = client_for(alice).get(f"/api/brokers/{broker.pk}/").content.decode()
    assert "my-key" not in listed and broker.api_key_encrypted not in listed


def test_update_keeps_a_credential_left_out_and_clears_one_sent_empty(alice, client_for) -> None:
    api = client_for(alice)
    broker_id = api.post("/api/brokers/", NEW, format="json").json()["id"]

    kept = api.patch(f"/api/brokers/{broker_id}/", {"name": "Renamed", "api_secret": ""}, format="json")

    assert kept.status_code == 200
    assert (kept.json()["name"], kept.json()["has_api_key"], kept.json()["has_api_secret"]) == ("Renamed", True, False)
    replaced = api.patch(f"/api/brokers/{broker_id}/", {"api_key": "new-key"}, format="json")
    assert replaced.status_code == 200
    assert credential_decrypt(Broker.objects.get(pk=broker_id).api_key_encrypted, broker_label="t") == "new-key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "exchange": "notanexchange"}, "exchange"),
        ({"name": "X"}, "exchange"),
        ({"exchange": "paper"}, "name"),
        ({"name": "   ", "exchange": "paper"}, "name"),
        ({"name": "X", "exchange": "paper", "type_de_trading": "Scalping"}, "type_de_trading"),
        ({"name": "X", "exchange": "paper", "api_base_url": "not a url"}, "api_base_url"),
        ({"name": "X", "exchange": "paper", "is_active": "perhaps"}, "is_active"),
    ],
)
def test_invalid_broker_is_a_400_naming_the_field(body, field, alice, client_for) -> None:
    answer = client_for(alice).post("/api/brokers/", body, format="json")

    assert answer.status_code == 400
    assert field in answer.json()["errors"] and answer.json()["message"]
    assert not Broker.objects.exists()


def test_name_is_unique_per_user_only(alice, bob, make, client_for) -> None:
    make.broker(alice, "Main")
    other = make.broker(alice, "Other")

    assert (
        client_for(alice).post("/api/brokers/", {"name": "Main", "exchange": "paper"}, format="json").status_code == 400
    )
    renamed = client_for(alice).patch(f"/api/brokers/{other.pk}/", {"name": "Main"}, format="json")
    assert renamed.status_code == 400 and "name" in renamed.json()["errors"]
    assert (
        client_for(bob).post("/api/brokers/", {"name": "Main", "exchange": "paper"}, format="json").status_code == 201
    )


def test_one_default_per_user(alice, bob, make, client_for) -> None:
    first = make.broker(alice, "First", is_default=True)
    bobs = make.broker(bob, "Bob's", is_default=True)
    api = client_for(alice)

    second = api.post("/api/brokers/", {"name": "Second", "exchange": "paper", "is_default": True}, format="json")

    assert second.status_code == 201
    assert list(Broker.objects.filter(user=alice, is_default=True).values_list("pk", flat=True)) == [
        second.json()["id"]
    ]
    api.patch(f"/api/brokers/{first.pk}/", {"is_default": True}, format="json")
    assert list(Broker.objects.filter(user=alice, is_default=True).values_list("pk", flat=True)) == [first.pk]
    assert Broker.objects.get(pk=bobs.pk).is_default


def test_delete_is_refused_while_a_position_is_open(alice, make, client_for) -> None:
    broker = make.broker(alice)
    position = make.position(alice, broker)
    api = client_for(alice)

    refused = api.delete(f"/api/brokers/{broker.pk}/")

    assert refused.status_code == 409 and "open position" in refused.json()["message"]
    position.status = "closed"
    position.save()
    assert api.delete(f"/api/brokers/{broker.pk}/").status_code == 204
    assert not Broker.objects.filter(pk=broker.pk).exists()


def test_gateway_not_running_is_a_503_within_the_short_timeout(alice, make, client_for, redis_url, settings) -> None:
    settings.GATEWAY_TIMEOUT_SECONDS = 1
    broker = make.broker(alice)
    api = client_for(alice)

    started = time.monotonic()
    tested = api.post(f"/api/brokers/{broker.pk}/test-connection/")
    balance = api.get(f"/api/brokers/{broker.pk}/balance/")

    assert time.monotonic() - started < 4
    for answer in (tested, balance):
        assert answer.status_code == 503
        assert "gateway did not answer" in answer.json()["message"] and answer.json()["error_kind"] == "unavailable"


def test_redis_down_is_a_503(alice, make, client_for, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    broker = make.broker(alice)

    answer = client_for(alice).post(f"/api/brokers/{broker.pk}/test-connection/")

    assert answer.status_code == 503 and "Redis is unreachable" in answer.json()["message"]


@pytest.mark.integration
def test_exchange_refusing_the_keys_is_a_502_with_its_reason(
    alice,
    client_for,
    gateway_service,
    simulator_thread,  # noqa: F811
) -> None:
    broker = Broker(user=alice, name="Binance sim", exchange="binance", api_base_url=simulator_thread.base_url)
    broker.set_credentials(api_key="W" * 64, api_secret="wrong-secret")
    broker.save()

    answer = client_for(alice).post(f"/api/brokers/{broker.pk}/test-connection/")

    assert answer.status_code == 502, answer.content
    assert answer.json()["error_kind"] == "AuthenticationFailed" and answer.json()["message"]
    assert "wrong-secret" not in answer.content.decode()


@pytest.mark.integration
def test_exchange_accepting_the_keys_answers_ok_and_the_balance(
    alice,
    client_for,
    gateway_service,
    simulator_thread,  # noqa: F811
) -> None:
    from tests.engine.conftest import SIM_SECRET

    broker = Broker(user=alice, name="Binance sim", exchange="binance", api_base_url=simulator_thread.base_url)
    broker.set_credentials(api_key=SIM_KEY, api_secret=SIM_SECRET)
    broker.save()
    api = client_for(alice)

    tested = api.post(f"/api/brokers/{broker.pk}/test-connection/")
    balance = api.get(f"/api/brokers/{broker.pk}/balance/")

    assert tested.status_code == 200 and tested.json()["ok"] is True and tested.json()["balances"]["USDT"] == "10000"
    assert balance.json() == {
        "broker": broker.pk,
        "balances": [{"currency": "USDT", "free": "10000", "total": "10000"}],
    }
