"""Each long-running process says it is alive: a Redis hash with a TTL, refreshed every few seconds.

`proc:<name>:<host>:<pid>` holds started_at, last_activity, beat_at, pid and host, and expires
`TTL_SECONDS` after the last beat: a process that hangs or dies disappears from it by itself.
The hash `procs` keeps the last record of every process (without TTL) so that `manage.py status`
can say when a process that is gone was last seen. The beat runs in the process's own loop
(worker_loop, the gateway's loop, the receiver's event loop), so a stuck loop stops beating;
the web process beats from a thread. The same pipeline writes the process's gathered metrics.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio as aioredis

from apps.core.metrics import PROCESS_METRICS, MetricsBuffer
from apps.core.throttle import LogThrottle

logger = logging.getLogger(__name__)

PROC_PREFIX = "proc:"
PROCS_INDEX = "procs"  # hash: liveness key → JSON of the last record written
BEAT_SECONDS = 5.0
TTL_SECONDS = 20  # four beats may be missed before a process counts as gone
_ERRORS = (redis.RedisError, OSError, TimeoutError)
ClientT = TypeVar("ClientT")  # a sync or an asyncio Redis client


def liveness_key(name: str, host: str, pid: int) -> str:
    return f"{PROC_PREFIX}{name}:{host}:{pid}"


class Liveness:
    """The liveness record of this process; `touch()` marks work done (cheap: one assignment)."""

    __slots__ = ("host", "key", "last_activity", "name", "pid", "started_at")

    def __init__(self, name: str, *, host: str | None = None, pid: int | None = None) -> None:
        self.name = name
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self.key = liveness_key(name, self.host, self.pid)
        self.started_at = time.time()
        self.last_activity: float | None = None

    def touch(self) -> None:
        self.last_activity = time.time()

    def record(self, now: float | None = None) -> dict[str, str]:
        return {
            "name": self.name,
            "host": self.host,
            "pid": str(self.pid),
            "started_at": repr(self.started_at),
            "last_activity": "" if self.last_activity is None else repr(self.last_activity),
            "beat_at": repr(time.time() if now is None else now),
        }


class _Beat(Generic[ClientT]):
    """What the sync and async publishers share: their client, when to beat and what to queue."""

    def __init__(
        self,
        liveness: Liveness,
        client: ClientT,
        *,
        interval: float = BEAT_SECONDS,
        ttl: int = TTL_SECONDS,
        metrics: MetricsBuffer = PROCESS_METRICS,
    ) -> None:
        self.liveness = liveness
        self.client = client
        self.interval = interval
        self.ttl = ttl
        self.metrics = metrics
        self._next = 0.0
        self._warn = LogThrottle(logger, every=60.0)

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def seconds_to_next(self) -> float:
        return max(0.05, self._next - time.monotonic())

    def _queue(self, pipe: Any) -> Any:
        record = self.liveness.record()
        pipe.hset(self.liveness.key, mapping=record)
        pipe.expire(self.liveness.key, self.ttl)
        pipe.hset(PROCS_INDEX, self.liveness.key, json.dumps(record))
        batch = self.metrics.drain()
        batch.queue(pipe)
        self._next = time.monotonic() + self.interval
        return batch

    def _failed(self, batch: Any, exc: BaseException) -> None:
        self.metrics.restore(batch)
        self._next = time.monotonic() + 1.0
        self._warn.warning("%s: cannot publish liveness to Redis: %s", self.liveness.name, exc)


class LivenessPublisher(_Beat[redis.Redis]):
    """Beats with a sync Redis client (worker loops, the web's thread)."""

    def beat(self, *, force: bool = False) -> bool:
        """Write the record when due (or forced); a Redis failure is logged, never raised."""
        if not (force or self.due()):
            return False
        pipe = self.client.pipeline(transaction=False)
        batch = self._queue(pipe)
        try:
            pipe.execute()
        except _ERRORS as exc:
            self._failed(batch, exc)
            return False
        return True

    def withdraw(self) -> None:
        """A clean stop: write the last metrics and remove the record."""
        with contextlib.suppress(*_ERRORS):
            pipe = self.client.pipeline(transaction=False)
            self.metrics.drain().queue(pipe)
            pipe.delete(self.liveness.key)
            pipe.hdel(PROCS_INDEX, self.liveness.key)
            pipe.execute()


class AsyncLivenessPublisher(_Beat[aioredis.Redis]):
    """Beats with an asyncio Redis client (the receiver and the gateway)."""

    async def beat(self, *, force: bool = False) -> bool:
        if not (force or self.due()):
            return False
        pipe = self.client.pipeline(transaction=False)
        batch = self._queue(pipe)
        try:
            async with asyncio.timeout(2.0):
                await pipe.execute()
        except _ERRORS as exc:
            self._failed(batch, exc)
            return False
        return True

    async def run(self) -> None:
        """Beat every interval until cancelled (a task beside the process's work)."""
        while True:
            await self.beat()
            await asyncio.sleep(self.seconds_to_next())

    async def withdraw(self) -> None:
        with contextlib.suppress(*_ERRORS):
            async with asyncio.timeout(2.0):
                pipe = self.client.pipeline(transaction=False)
                self.metrics.drain().queue(pipe)
                pipe.delete(self.liveness.key)
                pipe.hdel(PROCS_INDEX, self.liveness.key)
                await pipe.execute()


def running_under_daphne(argv: list[str] | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    return bool(argv) and (Path(argv[0]).name == "daphne" or "daphne" in Path(argv[0]).parts)


def web_liveness_start() -> LivenessPublisher | None:
    """In the web process (daphne) only: beat from a daemon thread; each HTTP request is activity."""
    if not running_under_daphne():
        return None
    from django.core.signals import request_started

    from apps.core.redis_client import redis_sync

    publisher = LivenessPublisher(Liveness("web"), redis_sync())

    def touched(**_: Any) -> None:
        publisher.liveness.touch()

    request_started.connect(touched, weak=False, dispatch_uid="aristobot-web-liveness")

    def loop() -> None:
        while True:
            publisher.beat()
            time.sleep(publisher.seconds_to_next())

    threading.Thread(target=loop, name="web-liveness", daemon=True).start()
    atexit.register(publisher.withdraw)  # daphne stopped cleanly: not "gone"
    return publisher
