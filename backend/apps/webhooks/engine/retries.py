"""Entries left unfinished in the engine group: taken up again in stream order, a partition
stopping at its first failure; an entry that keeps failing goes to the dead-letter stream, and
an alert's row then says why and whether anything reached the exchange."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis

from apps.core.streams import ENGINE_GROUP, STREAM_MAXLEN, WEBHOOK_DEAD, WEBHOOK_RAW, entry_order, text
from apps.webhooks.engine.failures import alert_fail
from apps.webhooks.engine.passes import PartitionClaims

logger = logging.getLogger("aristobot.engine")

Handle = Callable[[str, str, dict[Any, Any]], bool]  # stream, entry id, fields → done
PartitionOf = Callable[[str, dict[Any, Any]], str]
_FAILURES_KEPT = 10_000


class Retries:
    """The engine group's unfinished entries (see the module's docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        consumer: str,
        streams: tuple[str, ...],
        idle_ms: int,
        max_deliveries: int,
        claims: PartitionClaims,
        partition_of: PartitionOf,
        handle: Handle,
    ) -> None:
        self.redis = client
        self.consumer = consumer
        self.streams = streams
        self.idle_ms = idle_ms
        self.max_deliveries = max_deliveries
        self.claims = claims
        self.partition_of = partition_of
        self.handle = handle
        self.failures: dict[str, str] = {}  # entry id → why its last try failed (for the dead letter)

    def failed(self, entry_id: str, reason: str) -> None:
        if len(self.failures) > _FAILURES_KEPT:  # entries finished long ago: forget them
            self.failures.clear()
        self.failures[entry_id] = reason

    def succeeded(self, entry_id: str) -> None:
        self.failures.pop(entry_id, None)

    def run(self, held: dict[str, set[str]]) -> dict[str, set[str]]:
        """Try the entries idle for `idle_ms` and those `held` behind an unfinished one; returns
        the partitions still waiting and their entries."""
        candidates: list[tuple[str, str, int]] = []
        for stream in self.streams:
            stale: Any = self.redis.xpending_range(stream, ENGINE_GROUP, min="-", max="+", count=200, idle=self.idle_ms)
            candidates += [(stream, text(item["message_id"]), int(item["times_delivered"])) for item in stale]
        held_ids = {entry_id for ids in held.values() for entry_id in ids}
        if held_ids:
            for stream in self.streams:
                entries: Any = self.redis.xpending_range(stream, ENGINE_GROUP, min="-", max="+", count=1000)
                candidates += [
                    (stream, text(item["message_id"]), int(item["times_delivered"]))
                    for item in entries
                    if text(item["message_id"]) in held_ids
                ]
        unique = {entry_id: (stream, entry_id, delivered) for stream, entry_id, delivered in candidates}
        ordered = sorted(unique.values(), key=lambda c: entry_order(c[1]))
        # Read without claiming (one round trip): a claim counts as a delivery, and an entry held
        # behind a failing one must not use up its deliveries without ever being tried.
        pipe = self.redis.pipeline(transaction=False)
        for stream, entry_id, _delivered in ordered:
            pipe.xrange(stream, min=entry_id, max=entry_id)
        contents: list[Any] = pipe.execute() if ordered else []
        waiting: dict[str, set[str]] = {}
        for (stream, entry_id, delivered), found in zip(ordered, contents, strict=True):
            fields = found[0][1] if found else None
            if not fields:  # deleted while pending
                self.redis.xack(stream, ENGINE_GROUP, entry_id)
                continue
            key = self.partition_of(stream, fields)
            if key in waiting:  # an earlier entry of its partition is still unfinished: wait, untried
                waiting[key].add(entry_id)
                continue
            if self.claims.batch_take([key]):  # the background pass works on it: wait, untried
                waiting.setdefault(key, set()).add(entry_id)
                continue
            try:
                if delivered >= self.max_deliveries:
                    self.dead_letter(stream, entry_id, fields)
                    continue
                claimed: Any = self.redis.xclaim(stream, ENGINE_GROUP, self.consumer, 0, [entry_id])
                if claimed and not self.handle(stream, entry_id, fields):
                    waiting.setdefault(key, set()).add(entry_id)
            finally:
                self.claims.batch_give()
        return waiting

    def dead_letter(self, stream: str, entry_id: str, fields: dict[Any, Any]) -> None:
        """Give up on an entry: copy it to the dead-letter stream; an alert's row (created if it
        has none) says why and whether anything reached the exchange."""
        record = {**{text(k): text(v) for k, v in fields.items()}, "stream": stream, "entry_id": entry_id}
        self.redis.xadd(WEBHOOK_DEAD, record, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        if stream == WEBHOOK_RAW:
            last = self.failures.get(entry_id)
            reason = f"gave up after {self.max_deliveries} attempts" + (f" (last: {last})" if last else "")
            alert_fail(stream_id=entry_id, fields=fields, reason=f"{reason}, see the dead-letter stream {WEBHOOK_DEAD}")
        self.failures.pop(entry_id, None)
        self.redis.xack(stream, ENGINE_GROUP, entry_id)
        logger.error("%s %s moved to %s after %d deliveries", stream, entry_id, WEBHOOK_DEAD, self.max_deliveries)
