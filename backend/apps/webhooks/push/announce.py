"""Announcing changed alerts, positions and orders, cheaply enough for the engine's hot path.

A change is remembered in memory when its transaction commits; changes of one row are
coalesced until the next flush; a background thread sends each flush as one pipelined XADD
to `ui_events` (the web process pushes them to the browsers). Callers never wait for Redis:
while it is down the changes wait in memory (bounded) and go out once it is back.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import redis
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from apps.core.redis_client import redis_sync
from apps.core.streams import UI_EVENTS, UI_EVENTS_MAXLEN
from apps.core.throttle import LogThrottle, retry_delay
from apps.webhooks.push.events import EVENTS_PER_ENTRY, Change, PushEvent, PushKind, changes_encode

logger = logging.getLogger("aristobot.push")

LINGER_SECONDS = 0.05  # gather what the engine changes within 50 ms into one flush (one XADD)
MAX_PENDING = 200_000  # rows kept while Redis is down; beyond, changes are dropped (and logged)
SEND_TIMEOUT = 2.0  # seconds per command: a hung Redis must not hold the changes forever
WARN_EVERY_SECONDS = 60.0

_Key = tuple[str, int]
_CREATED = PushEvent.CREATED.value  # a plain str: compared on every saved row


def _redis() -> redis.Redis:
    return redis_sync(socket_timeout=SEND_TIMEOUT)


class Announcer:
    """Coalesces changes and sends them from its own thread; one per process (`announcer`)."""

    def __init__(
        self,
        *,
        linger: float = LINGER_SECONDS,
        max_pending: int = MAX_PENDING,
        connect: Callable[[], redis.Redis] = _redis,
    ) -> None:
        """`connect` makes the Redis client, once, at the first send (settings.REDIS_URL by default)."""
        self.linger = linger
        self.max_pending = max_pending
        self._connect = connect
        self._lock = threading.Lock()  # guards _pending (engine threads add, the flusher swaps)
        self._send_lock = threading.Lock()  # one sender at a time on the Redis connection
        self._pending: dict[_Key, tuple[int, str]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: redis.Redis | None = None
        self._failures = 0
        self._warn = LogThrottle(logger, every=WARN_EVERY_SECONDS)
        self.sent = 0  # changes sent since start
        self.dropped = 0  # changes lost because Redis stayed down too long

    def add(self, changes: Iterable[Change]) -> None:
        """Remember changes (a row created and then updated before the flush stays `created`)."""
        with self._lock:
            for kind, pk, user_id, event in changes:
                self._put(kind, pk, user_id, event)
        self._notify()

    def add_one(self, kind: str, pk: int, user_id: int, event: str) -> None:
        """`add` for one change, without building a list: the path of every saved row."""
        with self._lock:
            self._put(kind, pk, user_id, event)
        self._notify()

    def _put(self, kind: str, pk: int, user_id: int, event: str, *, bounded: bool = True) -> None:
        """Coalesce one change into the pending ones (`created` wins); the caller holds the lock.

        `bounded`: drop a new row beyond `max_pending` (else the caller trims).
        """
        key = (kind, pk)
        known = self._pending.get(key)
        if known is None:
            if bounded and len(self._pending) >= self.max_pending:
                self.dropped += 1
                return
            self._pending[key] = (user_id, event)
        elif event == _CREATED and known[1] != _CREATED:
            self._pending[key] = (user_id, event)

    def _notify(self) -> None:
        if not self._wake.is_set():
            self._wake.set()
        if self._thread is None:
            self._start()

    def pending_count(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Send what is pending now, in this thread; returns how many changes were sent.

        Raises the Redis error when sending failed (the changes stay pending).
        """
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            self._send(batch)
        except Exception:
            self._requeue(batch)
            raise
        self.sent += len(batch)
        return len(batch)

    def _send(self, batch: dict[_Key, tuple[int, str]]) -> None:
        changes = [(kind, pk, user_id, event) for (kind, pk), (user_id, event) in batch.items()]
        with self._send_lock:
            if self._client is None:
                self._client = self._connect()
            if len(changes) <= EVENTS_PER_ENTRY:  # the usual case: one XADD, no pipeline object
                fields: Any = changes_encode(changes)
                self._client.xadd(UI_EVENTS, fields, maxlen=UI_EVENTS_MAXLEN, approximate=True)
                return
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(changes), EVENTS_PER_ENTRY):
                fields = changes_encode(changes[start : start + EVENTS_PER_ENTRY])
                pipe.xadd(UI_EVENTS, fields, maxlen=UI_EVENTS_MAXLEN, approximate=True)
            pipe.execute()

    def _requeue(self, batch: dict[_Key, tuple[int, str]]) -> None:
        """Put a batch that could not be sent back in front of what came meanwhile."""
        with self._lock:
            newer, self._pending = self._pending, batch
            for (kind, pk), (user_id, event) in newer.items():
                self._put(kind, pk, user_id, event, bounded=False)
            overflow = len(self._pending) - self.max_pending
            if overflow > 0:
                for key in list(self._pending)[:overflow]:  # the oldest go first
                    del self._pending[key]
                self.dropped += overflow

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="push-announcer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(retry_delay(self._failures) if self._failures else self.linger)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # never let the thread die: Redis may come back
                self._failures += 1
                self._wake.set()  # retry after the backoff
                self._warn.warning(
                    "ui_events unreachable, %d changes wait (dropped %d): %s", self.pending_count(), self.dropped, exc
                )
            else:
                if self._failures:
                    logger.info("ui_events reachable again")
                self._failures = 0

    def close(self) -> None:
        """Send what is left (at exit): best effort, never raises."""
        try:
            self.flush()
        except Exception as exc:
            logger.warning("%d live-push changes not sent at exit: %s", self.pending_count(), exc)


announcer = Announcer()
atexit.register(announcer.close)


def announce_one(kind: PushKind, pk: int, user_id: int, event: PushEvent, using: str = DEFAULT_DB_ALIAS) -> None:
    """Announce one change when the current transaction commits (at once in autocommit: the row
    is committed already). The post_save path: no closure and no list outside a transaction."""
    connection = connections[using]
    if connection.in_atomic_block:
        connection.on_commit(partial(announcer.add_one, kind, pk, user_id, event))
    else:
        announcer.add_one(kind, pk, user_id, event)


def announce(changes: list[Change]) -> None:
    """Announce changes once the current transaction commits (at once outside a transaction)."""
    if changes:
        transaction.on_commit(partial(announcer.add, changes))


def announce_rows(kind: PushKind, rows: Iterable[Any], *, created: bool = False) -> None:
    """Announce rows changed without a post_save signal (QuerySet.update, bulk_create, bulk_update)."""
    event = PushEvent.CREATED if created else PushEvent.UPDATED
    announce([Change(kind, row.pk, row.user_id, event) for row in rows if row.pk is not None and row.user_id])


def announce_ids(kind: PushKind, ids: Iterable[int], *, user_id: int | None) -> None:
    """Announce rows of one user changed by a QuerySet.update() on their ids."""
    if user_id:
        announce([Change(kind, pk, user_id, PushEvent.UPDATED) for pk in ids])
