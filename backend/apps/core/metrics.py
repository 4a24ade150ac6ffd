"""Counters shared by separate processes: kept in Redis, gathered in memory, written in batches.

Each process adds to its `PROCESS_METRICS` (a lock and a dict: nothing on the hot path talks to
Redis); its liveness beat (apps/core/liveness.py) writes what gathered with HINCRBY in the same
pipeline every few seconds. The web process reads the hashes for /metrics.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

COUNTERS_KEY = "metrics:counters"  # hash: counter name → total since the Redis data began
LATENCY_KEY = "metrics:order_latency"  # hash: le:<bound> → observations in that bucket, sum, count

ALERTS_RECEIVED = "alerts_received"  # stored and answered 200 (receiver)
ALERTS_REJECTED = "alerts_rejected:"  # + reason, answered 4xx/5xx (receiver)
ALERTS_PROCESSED = "alerts_processed"  # recorded as processed (engine)
ALERTS_FAILED = "alerts_failed"  # recorded as error (engine)

# Seconds from the receiver accepting an alert to the exchange's answer to its order.
LATENCY_BUCKETS: tuple[float, ...] = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def latency_field(bound: float) -> str:
    """The hash field of a bucket: `le:0.25`, `le:+Inf` for the last one."""
    return "le:+Inf" if bound == float("inf") else f"le:{bound:g}"


@dataclass
class MetricsBatch:
    """What a process gathered since its last write."""

    counters: Counter[str] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0

    def __bool__(self) -> bool:
        return bool(self.counters) or self.latency_count > 0

    def queue(self, pipe: Any) -> None:
        """Queue the HINCRBY commands that add this batch to the shared totals."""
        for name, amount in self.counters.items():
            if amount:
                pipe.hincrby(COUNTERS_KEY, name, amount)
        if self.latency_count:
            bounds = (*LATENCY_BUCKETS, float("inf"))
            for bound, amount in zip(bounds, self.buckets, strict=True):
                if amount:
                    pipe.hincrby(LATENCY_KEY, latency_field(bound), amount)
            pipe.hincrbyfloat(LATENCY_KEY, "sum", self.latency_sum)
            pipe.hincrby(LATENCY_KEY, "count", self.latency_count)


class MetricsBuffer:
    """Counters and latency observations of this process, until the next write (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch = MetricsBatch()

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._batch.counters[name] += amount

    def observe_latency(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        with self._lock:
            batch = self._batch
            batch.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            batch.latency_sum += seconds
            batch.latency_count += 1

    def drain(self) -> MetricsBatch:
        """Take what gathered (give it back with `restore` if it could not be written)."""
        with self._lock:
            batch, self._batch = self._batch, MetricsBatch()
        return batch

    def restore(self, batch: MetricsBatch) -> None:
        with self._lock:
            current = self._batch
            current.counters.update(batch.counters)
            current.buckets = [a + b for a, b in zip(current.buckets, batch.buckets, strict=True)]
            current.latency_sum += batch.latency_sum
            current.latency_count += batch.latency_count


PROCESS_METRICS = MetricsBuffer()


def metric_incr(name: str, amount: int = 1) -> None:
    """Add to one of this process's counters (written to Redis with the next liveness beat)."""
    PROCESS_METRICS.incr(name, amount)


def order_latency_observe(seconds: float) -> None:
    """Record the time from an alert's arrival to the exchange's answer to its order."""
    PROCESS_METRICS.observe_latency(seconds)
