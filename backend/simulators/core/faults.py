"""Faults a test arms through `POST /_sim/faults`; each exchange's package gives the answers.

Counters count down: `{"status_5xx": 2}` fails the next two API requests. `latency_ms`
stays until set back to 0 or the simulator is reset. `fault_route` ("POST /api/v3/order")
narrows latency and the request-level faults to the requests of that method and path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from aiohttp import web

TIMEOUT_MODES = ("delay", "drop")


@dataclass
class Faults:
    """What goes wrong with the next requests; the defaults are a healthy exchange."""

    latency_ms: int = 0  # added to every API request
    status_5xx: int = 0  # next n requests answer `status_code` with a plain-text body, as a gateway does
    status_code: int = 503
    forbidden: int = 0  # next n requests answer 403, as a web application firewall does
    rate_limit: int = 0  # next n requests answer 429 (or 418, Binance's ban) with Retry-After
    retry_after: int = 1
    rate_limit_status: int = 429
    timeout_after_accept: int = 0  # next n orders are placed, then the answer is held or the connection dropped
    timeout_mode: str = "delay"
    timeout_hold_ms: int = 30_000  # "delay": hold the answer this long, or until the client gives up
    insufficient_balance: int = 0  # next n orders rejected for insufficient balance
    duplicate_client_id: int = 0  # next n orders rejected as a duplicate order
    fault_route: str = ""  # "POST /api/v3/order": latency and request-level faults only there; "" everywhere

    def applies_to(self, method: str, path: str) -> bool:
        """Whether latency and the request-level faults touch this API request."""
        return not self.fault_route or self.fault_route == f"{method} {path}"

    def arm(self, payload: Mapping[str, object]) -> None:
        """Set the named fields; raises ValueError naming a wrong field or value, changing nothing."""
        known = {field.name: field.type for field in fields(self)}
        updates: dict[str, object] = {}
        for name, value in payload.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            if name == "timeout_mode":
                if value not in TIMEOUT_MODES:
                    raise ValueError(f"timeout_mode must be one of {', '.join(TIMEOUT_MODES)}")
            elif name == "fault_route":
                if not isinstance(value, str) or (value and not _is_route(value)):
                    raise ValueError('fault_route must be "" or a method and a path, such as "POST /api/v3/order"')
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"fault {name!r} needs a whole number >= 0, not {value!r}")
            updates[name] = value
        if updates.get("status_code", self.status_code) not in range(500, 600):
            raise ValueError("status_code must be a 5xx status")
        if updates.get("rate_limit_status", self.rate_limit_status) not in (418, 429):
            raise ValueError("rate_limit_status must be 418 or 429")
        for name, value in updates.items():
            setattr(self, name, value)

    def take(self, counter: str) -> bool:
        """Consume one of an armed counter; False when it is not armed."""
        left = getattr(self, counter)
        if left <= 0:
            return False
        setattr(self, counter, left - 1)
        return True

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _is_route(value: str) -> bool:
    method, _, path = value.partition(" ")
    return method in ("GET", "POST", "PUT", "DELETE") and path.startswith("/") and " " not in path


async def hold_after_accept(request: web.Request, faults: Faults, stopping: asyncio.Event) -> None:
    """The accepted order's answer goes astray: hold it until the client gives up, or drop the connection."""
    transport = request.transport
    if faults.timeout_mode == "drop":
        if transport is not None:
            transport.abort()
        return
    deadline = time.monotonic() + faults.timeout_hold_ms / 1000
    while time.monotonic() < deadline and not stopping.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.02)
