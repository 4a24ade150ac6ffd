"""The OpenAPI schema validates without a warning, and its documentation pages need no internet."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command


def test_schema_generates_and_validates_without_warnings(tmp_path) -> None:
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=StringIO())

    text = out.read_text()
    for path in ("/api/webhooks/stats/", "/api/brokers/{id}/test-connection/", "/api/webhook-tokens/{id}/revoke/"):
        assert f"{path}:" in text


@pytest.mark.django_db
def test_schema_is_served(client) -> None:
    answer = client.get("/api/schema/", {"format": "json"})

    assert answer.status_code == 200
    schema = answer.json()
    stats = schema["components"]["schemas"]["WebhookStats"]["properties"]
    assert set(stats) == {
        "total_webhooks",
        "received",
        "processing",
        "processed",
        "errors",
        "missed",
        "actions_breakdown",
        "success_rate",
        "last_webhook_time",
        "period_start",
        "period_end",
    }
    assert schema["components"]["schemas"]["Broker"]["properties"]["has_api_key"]["readOnly"] is True
    assert "api_key" not in schema["components"]["schemas"]["Broker"]["properties"]
    assert "api_key" in schema["components"]["schemas"]["BrokerRequest"]["properties"]


@pytest.mark.django_db
def test_documentation_page_loads_its_scripts_from_this_server(client) -> None:
    asset = "swagger-ui-bundle.js"
    page = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/" in page and asset in page
    assert "cdn.jsdelivr" not in page and "unpkg" not in page and "https://" not in page
    script = next(part for part in page.split('"') if part.endswith(asset))
    assert finders.find(script.removeprefix("/static/")), f"{script} is not among the static files"
