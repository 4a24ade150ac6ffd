"""Every API endpoint, with what a stranger may do with it: the isolation tests run over this list.

`test_every_endpoint_is_listed` compares it with the generated schema, so a new endpoint fails
the suite until it is added here (and so gets its stranger and signed-out cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {id} for an object of `kind`
    access: str  # public | self | list | object | create
    kind: str = ""  # broker, webhook, position, order, token
    body: dict[str, Any] = field(default_factory=dict)
    results: str = "page"  # page | plain | stats | summary (what an empty answer looks like)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/auth/csrf/", "public"),
    Endpoint("POST", "/api/auth/login/", "public"),
    Endpoint("POST", "/api/auth/logout/", "public"),
    Endpoint("GET", "/api/auth/me/", "self"),
    Endpoint("GET", "/api/webhooks/", "list"),
    Endpoint("GET", "/api/webhooks/recent/", "list", results="plain"),
    Endpoint("GET", "/api/webhooks/stats/", "list", results="stats"),
    Endpoint("GET", "/api/webhooks/{id}/", "object", "webhook"),
    Endpoint("GET", "/api/webhook-states/", "list"),
    Endpoint("GET", "/api/webhook-states/open/", "list", results="plain"),
    Endpoint("GET", "/api/webhook-states/summary/", "list", results="summary"),
    Endpoint("GET", "/api/webhook-states/{id}/", "object", "position"),
    Endpoint("GET", "/api/orders/", "list"),
    Endpoint("GET", "/api/orders/{id}/", "object", "order"),
    Endpoint("GET", "/api/brokers/", "list"),
    Endpoint("POST", "/api/brokers/", "create", body={"name": "Mine", "exchange": "paper"}),
    Endpoint("GET", "/api/brokers/{id}/", "object", "broker"),
    Endpoint("PUT", "/api/brokers/{id}/", "object", "broker", body={"name": "Taken", "exchange": "paper"}),
    Endpoint("PATCH", "/api/brokers/{id}/", "object", "broker", body={"is_active": False, "api_key": "stolen"}),
    Endpoint("DELETE", "/api/brokers/{id}/", "object", "broker"),
    Endpoint("POST", "/api/brokers/{id}/test-connection/", "object", "broker"),
    Endpoint("GET", "/api/brokers/{id}/balance/", "object", "broker"),
    Endpoint("GET", "/api/webhook-tokens/", "list"),
    Endpoint("POST", "/api/webhook-tokens/", "create", body={"label": "mine"}),
    Endpoint("GET", "/api/webhook-tokens/{id}/", "object", "token"),
    Endpoint("DELETE", "/api/webhook-tokens/{id}/", "object", "token"),
    Endpoint("POST", "/api/webhook-tokens/{id}/revoke/", "object", "token"),
]

# Public pages that are not in the schema: the schema itself and the browsable documentation.
DOC_PAGES = ["/api/schema/", "/api/docs/"]

PRIVATE = [e for e in ENDPOINTS if e.access != "public"]
LISTS = [e for e in ENDPOINTS if e.access == "list"]
OBJECTS = [e for e in ENDPOINTS if e.access == "object"]
CREATES = [e for e in ENDPOINTS if e.access == "create"]
