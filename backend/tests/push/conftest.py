"""Sockets on the real ASGI application, the channel layer and ui_events on a real Redis."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from apps.brokers.models import Broker, TypeDeTrading
from apps.webhooks.push import announce as announce_module
from apps.webhooks.push.announce import Announcer
from apps.webhooks.push.forwarder import forwarder_stop
from aristobot.asgi import application

ORIGIN = (b"origin", b"http://localhost")


_announcers: dict[str, Announcer] = {}


def announcer_use(monkeypatch: pytest.MonkeyPatch, url: str) -> Announcer:
    """The process's announcer sends to `url` for this test (it connects once), with nothing left to send."""
    announcer = _announcers.get(url)
    if announcer is None:
        announcer = _announcers[url] = Announcer(connect=lambda: redis.Redis.from_url(url, socket_timeout=2))
    with announcer._lock:
        announcer._pending.clear()
    monkeypatch.setattr(announce_module, "announcer", announcer)
    return announcer


@pytest.fixture
def channel_layer_redis(redis_url: str, settings: Any, transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The channel layer and the announcer on the test Redis; nothing announced by an earlier test is left to send."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    announcer_use(monkeypatch, redis_url)
    return redis_url


@pytest.fixture
async def stop_forwarder() -> AsyncIterator[None]:
    yield
    await forwarder_stop()
    await database_sync_to_async(connections.close_all)()  # the forwarder's thread: PostgreSQL drops the test db


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


Connect = Callable[..., Awaitable[WebsocketCommunicator]]


@pytest.fixture
async def connect(channel_layer_redis: str, stop_forwarder: None) -> AsyncIterator[Connect]:
    """Open a socket as `user` (None: anonymous); all are closed after the test."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user: Any = None, *, origin: tuple[bytes, bytes] | None = ORIGIN) -> WebsocketCommunicator:
        headers = [origin] if origin else []
        if user is not None:
            cookie = await database_sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        communicator = WebsocketCommunicator(application, "/ws/webhooks/", headers=headers)
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        with contextlib.suppress(Exception):  # already closed by the server
            await communicator.disconnect()


async def _next(communicator: WebsocketCommunicator, seconds: float) -> dict[str, Any] | None:
    """The next message within `seconds`, else None (a timed-out receive_from would end the app)."""
    if await communicator.receive_nothing(timeout=seconds, interval=0.005):
        return None
    return json.loads(await communicator.receive_from())


async def messages(
    communicator: WebsocketCommunicator, *, quiet: float = 0.5, seconds: float = 5.0
) -> list[dict[str, Any]]:
    """Every message the socket receives until it stays `quiet` for that long (at most `seconds`)."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = await _next(communicator, quiet)
        if message is None:
            break
        received.append(message)
    return received


async def wait_for(
    communicator: WebsocketCommunicator, match: Callable[[dict[str, Any]], bool], *, seconds: float = 5.0
) -> dict[str, Any]:
    """The first message that matches, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        message = await _next(communicator, left)
        if message is None:
            break
        if match(message):
            return message
        seen.append(message)
    raise AssertionError(f"no matching message within {seconds} s; got {seen}")


async def wait_all(
    communicator: WebsocketCommunicator, wanted: set[tuple[str, str, int]], *, seconds: float = 5.0
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The messages (type, event, object id) in `wanted`, in whatever order they come."""
    found: dict[tuple[str, str, int], dict[str, Any]] = {}
    seen = []
    deadline = time.monotonic() + seconds
    while wanted - set(found) and (left := deadline - time.monotonic()) > 0:
        message = await _next(communicator, left)
        if message is None:
            break
        key = (message.get("type"), message.get("event"), message.get("data", {}).get("id"))
        if key in wanted:
            found[key] = message
        else:
            seen.append(message)
    missing = wanted - set(found)
    assert not missing, f"missing {missing} within {seconds} s; also got {seen}"
    return found


def paper_broker(user: Any, name: str = "Paper") -> Broker:
    broker, _ = Broker.objects.get_or_create(
        user=user, name=name, defaults={"exchange": "paper", "type_de_trading": TypeDeTrading.WEBHOOKS}
    )
    return broker
