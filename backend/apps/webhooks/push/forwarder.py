"""The web process's forwarder: `ui_events` → the rows as the REST API shows them → each
owner's channel-layer group.

One forwarder runs per web process (started with the first socket). The processes share the
stream through the consumer group `web`, so each entry is forwarded once; the channel layer
carries it to the owner's sockets whichever process holds them. Redis or database trouble
never ends the forwarder nor the web process: it waits, retries, and takes up what it read
but had not finished. An unreadable entry is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from redis.exceptions import ResponseError
from rest_framework.renderers import JSONRenderer

from apps.core.redis_client import redis_async
from apps.core.streams import UI_EVENTS, WEB_GROUP, entry_ms, text
from apps.core.throttle import RETRY_SECONDS, retry_delay
from apps.webhooks.api.serializers import OrderSerializer, WebhookSerializer, WebhookStateSerializer
from apps.webhooks.models import Order, Webhook, WebhookState
from apps.webhooks.push.events import PushEvent, PushKind, changes_decode

logger = logging.getLogger("aristobot.push")

MAX_AGE_SECONDS = 60.0  # older entries (a web process that was down) are skipped: the page reloads its lists
READ_COUNT = 100
BLOCK_MS = 1000
CLAIM_EVERY_SECONDS = 30.0
CLAIM_IDLE_MS = 30_000  # entries a dead web process read and never acknowledged
FORGET_CONSUMER_IDLE_MS = 3_600_000
MESSAGES_PER_SEND = 50
QUERY_CHUNK = 500

SOURCES: dict[PushKind, tuple[Any, Any]] = {
    PushKind.WEBHOOK: (Webhook, WebhookSerializer),
    PushKind.POSITION: (WebhookState, WebhookStateSerializer),
    PushKind.ORDER: (Order, OrderSerializer),
}

_Changes = dict[tuple[PushKind, int], PushEvent]


def user_group(user_id: int) -> str:
    """The channel-layer group of one user's sockets."""
    return f"user.{user_id}"


def _redis() -> aioredis.Redis:
    return redis_async(socket_timeout=BLOCK_MS / 1000 + 5)  # a blocking read answers within BLOCK_MS


def messages_render(changes: _Changes) -> list[tuple[int, str]]:
    """(owner's id, JSON message) for each changed row that still exists, as the REST API shows it."""
    renderer = JSONRenderer()
    out: list[tuple[int, str]] = []
    for kind, (model, serializer) in SOURCES.items():
        ids = sorted(pk for (each, pk) in changes if each == kind)
        for start in range(0, len(ids), QUERY_CHUNK):
            rows = model.objects.select_related("user", "broker").filter(pk__in=ids[start : start + QUERY_CHUNK])
            for row in rows.order_by("pk"):
                if not row.user_id:
                    continue
                try:
                    message = {"type": kind.value, "event": changes[(kind, row.pk)].value, "data": serializer(row).data}
                    out.append((row.user_id, renderer.render(message).decode()))
                except Exception:
                    logger.exception("could not render %s #%s for the live push", kind.value, row.pk)
    return out


class Forwarder:
    """Reads `ui_events` in the group `web`; `step()` forwards one batch and returns its size."""

    def __init__(
        self,
        *,
        connect: Callable[[], aioredis.Redis] = _redis,
        consumer: str | None = None,
        max_age_seconds: float = MAX_AGE_SECONDS,
        block_ms: int = BLOCK_MS,
    ) -> None:
        self._connect = connect
        self.consumer = consumer or f"web-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.max_age_seconds = max_age_seconds
        self.block_ms = block_ms
        self.ready = asyncio.Event()  # set once the group exists: changes from then on are forwarded
        self.client: aioredis.Redis | None = None
        self._group_from = "$"  # the first time: from now on; after losing the group: everything left
        self._grouped = False
        self._recover = True  # read our own unacknowledged entries first (after a failure)
        self._last_claim = time.monotonic()
        self.forwarded = 0  # messages sent to groups
        self.skipped = 0  # entries or items skipped: too old, unreadable

    async def run(self) -> None:
        """Forward until cancelled; a failure waits (backoff) and tries again, forever."""
        failures = 0
        while True:
            try:
                await self.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self._recover = True
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    self._grouped, self._group_from = False, "0"  # Redis lost the stream: take all it has now
                delay = retry_delay(failures)
                log = logger.warning if failures in (1, len(RETRY_SECONDS)) else logger.debug
                log("live push forwarder: %s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.aclose()
            self.client = None

    async def step(self) -> int:
        if self.client is None:
            self.client = self._connect()
        if not self._grouped:
            await self._group_ensure()
        if time.monotonic() - self._last_claim > CLAIM_EVERY_SECONDS:
            self._last_claim = time.monotonic()
            await self._claim_abandoned()
        own = self._recover
        response: Any = await self.client.xreadgroup(
            WEB_GROUP,
            self.consumer,
            {UI_EVENTS: "0" if own else ">"},
            count=READ_COUNT,
            block=None if own else self.block_ms,
        )
        entries = response[0][1] if response else []
        if own and not entries:
            self._recover = False
        await self.forward(entries)
        return len(entries)

    async def _group_ensure(self) -> None:
        assert self.client is not None
        try:
            await self.client.xgroup_create(UI_EVENTS, WEB_GROUP, id=self._group_from, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped = True
        self.ready.set()

    async def forward(self, entries: list[Any]) -> None:
        """Push a batch of entries to their owners, then acknowledge them (not before: a failure re-reads them)."""
        if not entries:
            return
        assert self.client is not None
        changes: _Changes = {}
        oldest_ms = int((time.time() - self.max_age_seconds) * 1000)
        for entry_id, fields in entries:
            if not fields or entry_ms(entry_id) < oldest_ms:  # trimmed while pending, or stale
                self.skipped += 1
                continue
            decoded, bad = changes_decode(fields)
            if bad:
                self.skipped += bad
                logger.warning("ui_events entry %s: %d unreadable item(s) skipped", text(entry_id), bad)
            for change in decoded:
                key = (change.kind, change.pk)
                if changes.get(key) != PushEvent.CREATED:
                    changes[key] = change.event
        if changes:
            await self._send(await database_sync_to_async(messages_render)(changes))
        await self.client.xack(UI_EVENTS, WEB_GROUP, *[entry_id for entry_id, _ in entries])

    async def _send(self, messages: list[tuple[int, str]]) -> None:
        by_user: dict[int, list[str]] = {}
        for user_id, message in messages:
            by_user.setdefault(user_id, []).append(message)
        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError("no channel layer configured (CHANNEL_LAYERS)")
        for user_id, texts in by_user.items():
            for start in range(0, len(texts), MESSAGES_PER_SEND):
                chunk = texts[start : start + MESSAGES_PER_SEND]
                await layer.group_send(user_group(user_id), {"type": "push.messages", "user": user_id, "texts": chunk})
                self.forwarded += len(chunk)

    async def _claim_abandoned(self) -> None:
        """Take over what a dead web process read and never acknowledged; forget long-gone processes."""
        assert self.client is not None
        claimed: Any = await self.client.xautoclaim(
            UI_EVENTS, WEB_GROUP, self.consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0", count=READ_COUNT
        )
        await self.forward(claimed[1])
        consumers: Any = await self.client.xinfo_consumers(UI_EVENTS, WEB_GROUP)
        for info in consumers:
            name = text(info["name"])
            if name != self.consumer and not info["pending"] and info["idle"] > FORGET_CONSUMER_IDLE_MS:
                await self.client.xgroup_delconsumer(UI_EVENTS, WEB_GROUP, name)


_running: tuple[asyncio.AbstractEventLoop, Forwarder, asyncio.Task[None]] | None = None


def forwarder_ensure() -> Forwarder:
    """This process's forwarder on the running event loop, started if it is not running."""
    global _running
    loop = asyncio.get_running_loop()
    if _running is not None:
        running_loop, forwarder, task = _running
        if running_loop is loop and not task.done():
            return forwarder
    forwarder = Forwarder()
    task = loop.create_task(forwarder.run(), name="live-push-forwarder")
    _running = (loop, forwarder, task)
    return forwarder


async def forwarder_stop() -> None:
    """Stop this process's forwarder (tests; a web process simply exits)."""
    global _running
    if _running is None:
        return
    loop, forwarder, task = _running
    _running = None
    if loop is asyncio.get_running_loop():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await forwarder.close()
