"""A broker's api_base_url points only where the operator allows, and no exchange answer reaches the browser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from apps.brokers.models import Broker

pytestmark = pytest.mark.django_db

INTERNAL_SECRET = "internal-service-secret-0451"


class InternalService:
    """An HTTP service on loopback that counts the requests it gets and answers a secret-bearing body."""

    def __init__(self, *, status: int = 500) -> None:
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                body = f"<html>admin console: token={INTERNAL_SECRET}</html>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal_service() -> Iterator[InternalService]:
    service = InternalService()
    yield service
    service.stop()


NEW = {"name": "Binance", "exchange": "binance", "api_key": "k" * 16, "api_secret": "s" * 16}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8000/admin/",
        "https://api.binance.com.attacker.example",
        "http://api.binance.com",  # the exchange's host, but not over https
        "https://api.binance.com:8443",
        "http://api.binance.com@127.0.0.1:6379/",
    ],
)
def test_the_stranger_cannot_point_a_broker_at_an_address_the_operator_did_not_allow(charlie, client_for, url) -> None:
    answer = client_for(charlie).post("/api/brokers/", {**NEW, "api_base_url": url}, format="json")

    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert "api_base_url" in errors
    said = str(errors["api_base_url"])
    assert any(reason in said for reason in ("EXCHANGE_BASE_URL_ALLOWLIST", "user name, password", "valid URL")), said
    assert not Broker.objects.exists()


def test_an_existing_broker_cannot_be_moved_to_an_internal_address(alice, make, client_for) -> None:
    broker = make.broker(alice, "Binance", exchange="binance")

    answer = client_for(alice).patch(
        f"/api/brokers/{broker.pk}/", {"api_base_url": "http://10.0.0.7:9200/"}, format="json"
    )

    assert answer.status_code == 400 and "api_base_url" in answer.json()["errors"]
    broker.refresh_from_db()
    assert broker.api_base_url == ""


@pytest.mark.parametrize("url", ["", "https://api.binance.com", "https://testnet.binance.vision/"])
def test_empty_or_the_exchanges_own_address_needs_no_allowlist(alice, client_for, url) -> None:
    answer = client_for(alice).post("/api/brokers/", {**NEW, "api_base_url": url}, format="json")

    assert answer.status_code == 201, answer.content


@pytest.mark.parametrize(
    ("allowlist", "url", "allowed"),
    [
        (["127.0.0.1:8899"], "http://127.0.0.1:8899", True),
        (["127.0.0.1:8899"], "http://127.0.0.1:8898", False),
        (["127.0.0.1"], "http://127.0.0.1:8898/", True),
        (["https://proxy.example.com/binance"], "https://proxy.example.com/binance/", True),
        (["https://proxy.example.com/binance"], "https://proxy.example.com/binancex", False),
        (["https://proxy.example.com/binance"], "http://proxy.example.com/binance", False),
        (["https://proxy.example.com/binance"], "https://proxy.example.com/", False),
    ],
)
def test_the_operators_allowlist_decides(alice, client_for, settings, allowlist, url, allowed) -> None:
    settings.EXCHANGE_BASE_URL_ALLOWLIST = allowlist

    answer = client_for(alice).post("/api/brokers/", {**NEW, "api_base_url": url}, format="json")

    assert answer.status_code == (201 if allowed else 400), answer.content


def _admin(user: Any) -> Client:
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_may_set_an_allowed_address_and_no_other(alice, bob, settings) -> None:
    settings.EXCHANGE_BASE_URL_ALLOWLIST = ["http://127.0.0.1:8899"]
    admin = _admin(alice)
    form = {"user": bob.pk, "name": "Sim", "exchange": "binance", "type_de_trading": "Webhooks", "is_active": "on"}

    refused = admin.post("/admin/brokers/broker/add/", {**form, "api_base_url": "http://127.0.0.1:6379"})
    assert refused.status_code == 200 and "EXCHANGE_BASE_URL_ALLOWLIST" in refused.content.decode()
    assert not Broker.objects.exists()

    added = admin.post("/admin/brokers/broker/add/", {**form, "api_base_url": "http://127.0.0.1:8899"})
    assert added.status_code == 302, added.content.decode()[:2000]
    assert Broker.objects.get(user=bob).api_base_url == "http://127.0.0.1:8899"


@pytest.mark.integration
def test_a_stored_address_no_longer_allowed_is_refused_by_the_gateway_and_never_called(
    alice, client_for, gateway_service, internal_service
) -> None:
    # Stored without validation (before the allowlist existed, or by a script): the gateway refuses it.
    broker = Broker.objects.create(user=alice, name="Old", exchange="binance", api_base_url=internal_service.url)
    broker.set_credentials(api_key="k" * 16, api_secret="s" * 16)
    broker.save()

    answer = client_for(alice).post(f"/api/brokers/{broker.pk}/test-connection/")

    assert answer.status_code == 502, answer.content
    assert answer.json()["error_kind"] == "ConfigurationError"
    assert "EXCHANGE_BASE_URL_ALLOWLIST" in answer.json()["message"]
    assert internal_service.hits == 0


@pytest.mark.integration
@pytest.mark.parametrize("status", [200, 500])
def test_what_an_allowed_address_answers_never_reaches_the_browser(
    alice, client_for, gateway_service, settings, status
) -> None:
    service = InternalService(status=status)
    try:
        settings.EXCHANGE_BASE_URL_ALLOWLIST = [service.url]
        broker = Broker(user=alice, name="Proxy", exchange="binance", api_base_url=service.url)
        broker.set_credentials(api_key="k" * 16, api_secret="s" * 16)
        broker.save()
        api = client_for(alice)

        answers = [
            api.post(f"/api/brokers/{broker.pk}/test-connection/"),
            api.get(f"/api/brokers/{broker.pk}/balance/"),
        ]
    finally:
        service.stop()

    assert service.hits >= 1
    for answer in answers:
        text = answer.content.decode()
        assert INTERNAL_SECRET not in text and "<html" not in text and "admin console" not in text
        if status != 200:  # an HTML 200 reads as an empty account: nothing of it is shown either
            assert answer.status_code in (502, 503) and "Proxy" in answer.json()["message"], text


def test_a_bad_allowlist_stops_the_process_naming_the_variable(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    backend = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aristobot.settings_test", "ARISTOBOT_VAR_DIR": str(tmp_path)}
    env["EXCHANGE_BASE_URL_ALLOWLIST"] = "127.0.0.1:8899,ftp://files.internal"

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=backend, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "EXCHANGE_BASE_URL_ALLOWLIST" in result.stderr and "ftp://files.internal" in result.stderr
