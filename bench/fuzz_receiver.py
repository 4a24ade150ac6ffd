"""Fuzz a running webhook receiver with hostile requests and report what it answered.

Usage:
    .venv/bin/python bench/fuzz_receiver.py --bodies 3000 --url http://127.0.0.1:8888 --token TOKEN \
        [--seed 0] [--timeout 10] [--json]

`--token` is a valid webhook token of a user on that stack (seed_demo prints one); it is put in
the path, the header, the body (any case, nested, in arrays) or nowhere, and a wrong one is tried
too. The bodies come from tests/receiver/hostile.py: arbitrary bytes, JSON of random shapes, huge
numbers, NaN, deep nesting, odd encodings, bodies over the size limit, alert-shaped bodies with bad
values. Some may be valid alerts (a PING, a trade on the broker they name), so run it against a
test stack. Bounded: at most 100,000 requests, each on its own connection with a timeout, one at a
time, and only to a loopback address. Set WEBHOOK_RATE_LIMIT_PER_MINUTE=0 on the stack, or some
answers are 429.

Prints the count per status (`error` when no HTTP answer came), every 5xx other than 503 (the only
5xx allowed: Redis unreachable), and how many were accepted; `--json` prints the whole result,
with the trace id of every accepted body so the caller can check each has a Webhook row. Exits 1
when a 5xx other than 503 was answered.

From Python (bench/chaos.py): `fuzz_receiver(url=..., token=..., bodies=3000)` returns a FuzzResult
(`accepted_trace_ids`, `statuses`, `server_errors`).
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backend"))

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.strategies import SearchStrategy

from tests.receiver.hostile import HostileRequest, hostile_requests

MAX_BODIES = 100_000
NO_ANSWER = "error"


@dataclass
class FuzzResult:
    """What the receiver answered to the fuzzed requests."""

    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "400", …, "error" (no HTTP answer)
    accepted_trace_ids: list[str] = field(default_factory=list)
    server_errors: list[dict[str, object]] = field(default_factory=list)  # 5xx other than 503, with the request

    def to_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "statuses": dict(sorted(self.statuses.items())),
            "accepted": len(self.accepted_trace_ids),
            "accepted_trace_ids": self.accepted_trace_ids,
            "server_errors": self.server_errors,
        }


def loopback_address(url: str) -> tuple[str, int]:
    """(host, port) of an http:// URL on this machine; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"--url must be http://HOST:PORT on this machine, got {url!r}")
    host = parts.hostname
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ValueError(f"refusing to fuzz {host}: only a loopback receiver (127.0.0.1, ::1, localhost)")
    return host, parts.port or 80


def send(host: str, port: int, request: HostileRequest, timeout: float) -> tuple[str, bytes]:
    """(status, answer body) of one request on its own connection; status "error" when none came."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", request.path, body=request.body, headers=request.headers)
        response = connection.getresponse()
        return str(response.status), response.read()
    except (OSError, http.client.HTTPException) as exc:
        return NO_ANSWER, repr(exc).encode()
    finally:
        connection.close()


def _generated(
    strategy: SearchStrategy[HostileRequest], *, examples: int, seed_value: int
) -> Callable[[Callable[[HostileRequest], None]], Callable[[], None]]:
    """Decorate a function to be called with `examples` values of `strategy` (generation only, no shrinking)."""

    def wrap(function: Callable[[HostileRequest], None]) -> Callable[[], None]:
        test = given(strategy)(function)
        test = seed(seed_value)(test)
        return settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(test)

    return wrap


def fuzz_receiver(*, url: str, token: str, bodies: int, seed_value: int = 0, timeout: float = 10.0) -> FuzzResult:
    """Send `bodies` hostile requests to the receiver at `url` (loopback only); what it answered."""
    host, port = loopback_address(url)
    if not 1 <= bodies <= MAX_BODIES:
        raise ValueError(f"--bodies must be between 1 and {MAX_BODIES}")
    result = FuzzResult()

    def one(request: HostileRequest) -> None:
        status, answer = send(host, port, request, timeout)
        result.sent += 1
        result.statuses[status] += 1
        if status == "200":
            result.accepted_trace_ids.append(json.loads(answer)["trace_id"])
        elif status.startswith("5") and status != "503":
            result.server_errors.append({"status": int(status), "request": repr(request), "answer": answer[:300]})

    while result.sent < bodies:  # hypothesis may stop a little early: go on with the next seed
        _generated(hostile_requests(token), examples=bodies - result.sent, seed_value=seed_value)(one)()
        seed_value += 1
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=1000, help="requests to send (default 1000)")
    parser.add_argument("--url", default="http://127.0.0.1:8888", help="the receiver, on this machine")
    parser.add_argument("--token", required=True, help="a valid webhook token on that receiver")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same requests (default 0)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = parser.parse_args()
    try:
        result = fuzz_receiver(
            url=args.url, token=args.token, bodies=args.bodies, seed_value=args.seed, timeout=args.timeout
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(result.to_dict(), default=lambda value: value.decode("utf-8", "replace"), indent=2))
    else:
        print(f"sent {result.sent} requests to {args.url}")
        for status, count in sorted(result.statuses.items()):
            print(f"  {status:>5}: {count}")
        print(f"accepted (200): {len(result.accepted_trace_ids)} (trace ids with --json)")
        print(f"5xx other than 503: {len(result.server_errors)}")
        for error in result.server_errors[:20]:
            print(f"  {error['status']} {error['request']}")
    return 1 if result.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
