"""Counters since start, shown by GET /health."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Rejection(StrEnum):
    """Why an alert was not answered 200; each has its own counter."""

    FORBIDDEN_IP = "forbidden_ip"
    TOO_LARGE = "too_large"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    BAD_BODY = "bad_body"
    SLOW_BODY = "slow_body"
    DISCONNECTED = "disconnected"  # the sender closed the connection (or the cap closed it) before the whole body
    STORE_UNAVAILABLE = "store_unavailable"


class ReceiverStats:
    """What the receiver did since it started."""

    __slots__ = ("_started", "last_alert_at", "received", "recorded_rejected", "rejected")

    def __init__(self) -> None:
        self._started = time.monotonic()
        self.received = 0  # stored and answered 200
        self.recorded_rejected = 0  # answered 4xx but stored with `rejected` for the trader to see
        self.rejected: Counter[str] = Counter()
        self.last_alert_at: str | None = None

    def accepted(self, received_at: str) -> None:
        """Count an alert stored and answered 200."""
        self.received += 1
        self.last_alert_at = received_at

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready values."""
        return {
            "received": self.received,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": {reason.value: self.rejected[reason] for reason in Rejection},
            "recorded_rejected": self.recorded_rejected,
            "uptime_seconds": round(time.monotonic() - self._started, 3),
            "last_alert_at": self.last_alert_at,
        }


def utc_now_iso() -> str:
    """Now, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat()
