"""The forwarder survives bad entries and a Redis restart, and routes by the row's real owner."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async

from apps.core.ports import free_port, port_wait
from apps.core.streams import UI_EVENTS, WEB_GROUP
from apps.webhooks.push import forwarder as forwarder_module
from tests.push.conftest import Connect, announcer_use, messages, wait_all
from tests.push.test_push_events import rows_create

pytestmark = pytest.mark.integration


def xadd(url: str, fields: dict[str, str]) -> None:
    client = redis.Redis.from_url(url)
    client.xadd(UI_EVENTS, fields)  # type: ignore[arg-type]
    client.close()


async def test_malformed_entries_are_skipped_and_later_ones_still_pushed(
    connect: Connect, alice: Any, channel_layer_redis: str
) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    for fields in (
        {"events": "{not json"},
        {"something": "else"},
        {"events": '[["order", "seven", 1, "created"], ["nonsense"]]'},
        {"events": '[["order", 999999, 1, "created"]]'},  # a row that does not exist (any more)
    ):
        await asyncio.to_thread(xadd, channel_layer_redis, fields)
    ids = await database_sync_to_async(rows_create)(alice)
    await wait_all(ws, {(kind, "created", pk) for kind, pk in ids.items()})

    running = forwarder_module._running
    assert running is not None and not running[2].done()
    assert running[1].skipped >= 4
    client = redis.Redis.from_url(channel_layer_redis)
    assert client.xpending(UI_EVENTS, WEB_GROUP)["pending"] == 0
    client.close()


async def test_event_naming_the_wrong_user_goes_to_the_rows_owner_only(
    connect: Connect, alice: Any, charlie: Any, channel_layer_redis: str
) -> None:
    alices, charlies = await connect(alice), await connect(charlie)
    assert (await alices.connect())[0] and (await charlies.connect())[0]
    ids = await database_sync_to_async(rows_create)(alice)
    await wait_all(alices, {(kind, "created", pk) for kind, pk in ids.items()})
    forged = f'[["order", {ids["order"]}, {charlie.pk}, "updated"]]'
    await asyncio.to_thread(xadd, channel_layer_redis, {"events": forged})
    await wait_all(alices, {("order", "updated", ids["order"])})
    assert await messages(charlies, quiet=0.5) == []


class RedisProcess:
    """A redis-server of this test's own, which the test stops and starts again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="aristobot-push-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""]
        self.process = subprocess.Popen([*command, "--appendonly", "no"], stdout=subprocess.DEVNULL)
        port_wait(self.port, timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(settings: Any, channel_layer_redis: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    settings.REDIS_URL = server.url
    announcer_use(monkeypatch, server.url)
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [server.url]}}
    }
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


async def test_forwarder_keeps_working_after_redis_restarts(
    connect: Connect, alice: Any, own_redis: RedisProcess
) -> None:
    before = await connect(alice)
    assert (await before.connect())[0]
    ids = await database_sync_to_async(rows_create)(alice, "BTC/USDT")
    await wait_all(before, {(kind, "created", pk) for kind, pk in ids.items()})
    running = forwarder_module._running
    assert running is not None

    await asyncio.to_thread(own_redis.stop)  # everything is lost: stream, group, channel-layer groups
    await asyncio.sleep(1.5)
    assert not running[2].done(), "the forwarder ended while Redis was down"
    await asyncio.to_thread(own_redis.start)

    # The browser reconnects after losing its socket; the same forwarder carries on.
    after = await connect(alice)
    assert (await after.connect())[0]
    ids = await database_sync_to_async(rows_create)(alice, "ETH/USDT")
    await wait_all(after, {(kind, "created", pk) for kind, pk in ids.items()}, seconds=15)
    assert forwarder_module._running is running and not running[2].done()


async def test_entries_read_by_a_dead_web_process_are_taken_over(
    connect: Connect, alice: Any, channel_layer_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(channel_layer_redis)
    client.xgroup_create(UI_EVENTS, WEB_GROUP, id="$", mkstream=True)
    ids = await database_sync_to_async(rows_create)(alice)
    for _ in range(100):
        if client.xlen(UI_EVENTS):
            break
        await asyncio.sleep(0.02)
    read: Any = client.xreadgroup(WEB_GROUP, "web-dead", {UI_EVENTS: ">"}, count=100)  # then it died
    assert read and read[0][1]
    monkeypatch.setattr(forwarder_module, "CLAIM_IDLE_MS", 0)
    monkeypatch.setattr(forwarder_module, "CLAIM_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(forwarder_module, "FORGET_CONSUMER_IDLE_MS", 0)

    ws = await connect(alice)
    assert (await ws.connect())[0]
    await wait_all(ws, {(kind, "created", pk) for kind, pk in ids.items()})
    await asyncio.sleep(0.2)
    consumers: Any = client.xinfo_consumers(UI_EVENTS, WEB_GROUP)
    assert "web-dead" not in {info["name"].decode() for info in consumers}
    client.close()
