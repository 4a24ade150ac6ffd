"""Making alerts durable: XADD to `webhook_raw`, alerts arriving together sharing one pipelined round trip.

A single writer drains a queue into one pipeline per round trip, so a burst neither opens a Redis
connection per alert (the pool has a ceiling) nor pays per-command client overhead; an alert alone
still costs exactly one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from apps.core.streams import WEBHOOK_RAW, RawAlert

logger = logging.getLogger(__name__)

MAX_BATCH = 256  # alerts per pipeline: bounds the wait of the last one in a burst
WRITE_TIMEOUT = 1.0  # seconds per round trip; TradingView gives up after 3


class StoreUnavailable(Exception):
    """Redis did not take the alert: answer 503 so TradingView resends it."""


class AlertWriter:
    """Queue of alerts to XADD; `store` returns the entry id once Redis has it, or raises StoreUnavailable."""

    def __init__(self, redis: aioredis.Redis, *, maxlen: int | None, timeout: float = WRITE_TIMEOUT) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._timeout = timeout
        self._queue: list[tuple[dict[str, str], asyncio.Future[str]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task (on the running loop)."""
        self._task = asyncio.create_task(self._run(), name="webhook-alert-writer")

    async def stop(self) -> None:
        """Stop the writer; alerts still queued are answered StoreUnavailable."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail(self._queue, StoreUnavailable("receiver stopping"))
        self._queue = []

    async def store(self, alert: RawAlert) -> str:
        """Queue the alert and wait until Redis has stored it."""
        if self._task is None:
            raise StoreUnavailable("alert writer not running")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((alert.to_fields(), future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    await self._write(batch)
                except Exception as exc:  # a bug must neither kill the writer nor leave requests waiting
                    logger.exception("alert writer failed")
                    self._fail(batch, StoreUnavailable(f"{type(exc).__name__}: {exc}"))

    async def _write(self, batch: list[tuple[dict[str, str], asyncio.Future[str]]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for fields, _ in batch:
            pipe.xadd(WEBHOOK_RAW, fields, maxlen=self._maxlen, approximate=self._maxlen is not None)  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(self._timeout):
                results = await pipe.execute(raise_on_error=False)
        except (TimeoutError, RedisError, OSError) as exc:
            self._fail(batch, StoreUnavailable(f"{type(exc).__name__}: {exc}"))
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(StoreUnavailable(f"{type(result).__name__}: {result}"))
            else:
                future.set_result(result.decode() if isinstance(result, bytes) else str(result))

    @staticmethod
    def _fail(batch: list[tuple[dict[str, str], asyncio.Future[str]]], error: StoreUnavailable) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)


async def redis_reachable(redis: aioredis.Redis, *, within: float) -> bool:
    """True when Redis answers PING within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            return bool(await redis.ping())
    except (TimeoutError, RedisError, OSError):
        return False
