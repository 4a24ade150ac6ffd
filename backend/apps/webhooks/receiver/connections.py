"""A cap on open connections, so idle or slow clients cannot use up the file descriptors real alerts need.

aiohttp closes a connection that sends no complete request head within `keepalive_timeout` of
connecting or of its last answer (see runner.py), but it has no cap: connections opened faster than
they time out would exhaust the process's file limit, and then accept() fails for everyone. Here a
new connection beyond the cap closes the least recently active one that is idle or still waiting for
a request's body (a sender that opens a request and never sends its body cannot hold a connection a
real alert needs); one whose body is in and being stored is never closed. When every connection is
storing, the new one is closed at once.
"""

from __future__ import annotations

import asyncio
import resource
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

RESERVED_FILES = 64  # descriptors kept for Redis, the database, logs and the listening socket


class _Tracked(asyncio.Protocol):
    """A connection's protocol (aiohttp's request handler) with its activity reported to the guard."""

    __slots__ = ("_guard", "busy", "inner", "reading", "transport")

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self.inner = inner
        self.busy = 0  # requests being handled (a pipelined connection may have more than one)
        self.reading = 0  # of those, requests still waiting for their body
        self.transport: asyncio.BaseTransport | None = None

    @property
    def evictable(self) -> bool:
        """Idle, or every request on it still waiting for its body: nothing of an alert would be lost."""
        return self.busy == self.reading

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._guard.opened(self)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._guard.active(self)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.closed(self)
        self.transport = None
        self.inner.connection_lost(exc)


class _Refused(asyncio.Protocol):
    """A connection over the cap while every other one is storing an alert: closed as soon as it is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class ConnectionGuard:
    """Keeps at most `limit` connections open, closing the least recently active idle or body-waiting one first."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._open: OrderedDict[_Tracked, None] = OrderedDict()  # least recently active first
        self._by_handler: dict[Any, _Tracked] = {}
        self.evicted = 0  # closed over the cap: idle, or waiting for a body (also counted in `evicted_reading`)
        self.evicted_reading = 0  # closed over the cap while waiting for a request's body
        self.refused = 0

    def protocol_factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory (the runner's server) for `loop.create_server`."""

        def factory() -> asyncio.Protocol:
            if len(self._open) >= self.limit and not self._evict_one():
                self.refused += 1
                return _Refused()
            return _Tracked(self, make())

        return factory

    def _evict_one(self) -> bool:
        """Close the least recently active connection that is idle or waiting for a body; False when none is."""
        for tracked in self._open:
            if tracked.evictable:
                if tracked.reading:
                    self.evicted_reading += 1
                self._forget(tracked)
                if tracked.transport is not None:
                    tracked.transport.abort()  # type: ignore[attr-defined]
                self.evicted += 1
                return True
        return False

    def opened(self, tracked: _Tracked) -> None:
        self._open[tracked] = None
        self._by_handler[tracked.inner] = tracked

    def active(self, tracked: _Tracked) -> None:
        if tracked in self._open:
            self._open.move_to_end(tracked)

    def closed(self, tracked: _Tracked) -> None:
        self._forget(tracked)

    def _forget(self, tracked: _Tracked) -> None:
        self._open.pop(tracked, None)
        self._by_handler.pop(tracked.inner, None)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Marks the connection busy while its request is handled, so the cap never cuts an alert being stored."""
        tracked = self._by_handler.get(request.protocol)
        if tracked is None:  # served without the guard (tests' own server)
            return await handler(request)
        tracked.busy += 1
        try:
            return await handler(request)
        finally:
            tracked.busy -= 1
            self.active(tracked)

    @contextmanager
    def reading_body(self, request: web.Request) -> Iterator[None]:
        """Marks the request's connection as waiting for its body: the cap may close it meanwhile."""
        tracked = self._by_handler.get(request.protocol)
        if tracked is None:
            yield
            return
        tracked.reading += 1
        try:
            yield
        finally:
            tracked.reading -= 1

    def snapshot(self) -> dict[str, int]:
        """Counters for GET /health."""
        return {
            "open": len(self._open),
            "limit": self.limit,
            "evicted": self.evicted,
            "evicted_reading": self.evicted_reading,
            "refused": self.refused,
        }


def connection_limit(wanted: int) -> tuple[int, int]:
    """(cap, open-file limit): `wanted`, lowered to fit the process's open-file limit, raised first to its maximum."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(1, min(wanted, soft - RESERVED_FILES)), soft
