"""Live push end to end: an alert sent over HTTP to the real receiver reaches the trader's
WebSocket on the real web process (Daphne) within a second; a stranger's socket stays silent."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from apps.core.ports import port_wait
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

SESSION_CODE = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(username={username!r})
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def session_for(stack: Stack, username: str) -> str:
    """A signed-in session of `username` in the stack's database (created if missing)."""
    return stack.manage("shell", "-c", SESSION_CODE.format(username=username)).strip().splitlines()[-1]


async def _next_message(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> dict[str, Any] | None:
    try:
        frame = await ws.receive(timeout=seconds)
    except TimeoutError:
        return None
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    return json.loads(frame.data)


async def _collect(ws: aiohttp.ClientWebSocketResponse, until: Any, seconds: float) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        message = await _next_message(ws, left)
        if message is None:
            break
        received.append(message)
        if until(received):
            break
    return received


async def test_alert_sent_to_the_receiver_reaches_the_owners_socket_within_a_second(stack: Stack) -> None:
    stack.start("web")
    await asyncio.to_thread(port_wait, stack.web_port, timeout=20)
    owner = await asyncio.to_thread(session_for, stack, "demo")
    stranger = await asyncio.to_thread(session_for, stack, "charlie")
    url = f"ws://127.0.0.1:{stack.web_port}/ws/webhooks/"
    origin = f"http://127.0.0.1:{stack.web_port}"
    token = stack.webhook_url.rsplit("/", 1)[1]  # type: ignore[attr-defined]
    body = {"Token": token, "UserExchangeID": stack.broker_id, "Symbol": "BTCUSDT", "Action": "BuyMarket"}  # type: ignore[attr-defined]
    body |= {"Prix": "40000", "PourCent": "10", "PrixSL": "38000", "PrixTP": "46000", "ID": "push-e2e-1"}

    async with aiohttp.ClientSession() as http:
        anonymous = await http.ws_connect(url, origin=origin)
        closed = await anonymous.receive(timeout=5)
        assert closed.type == aiohttp.WSMsgType.CLOSE and anonymous.close_code == 4401

        mine = await http.ws_connect(url, origin=origin, headers={"Cookie": f"sessionid={owner}"})
        theirs = await http.ws_connect(url, origin=origin, headers={"Cookie": f"sessionid={stranger}"})
        await mine.send_json({"type": "ping"})
        assert await _next_message(mine, 5) == {"type": "pong"}

        sent = time.perf_counter()
        answer = await http.post(
            f"http://127.0.0.1:{stack.receiver_port}/webhook",
            data=json.dumps(body),
            headers={"Content-Type": "text/plain"},
        )
        assert answer.status == 200, await answer.text()
        first = await _next_message(mine, 5)
        latency = time.perf_counter() - sent
        print(f"\nlive push latency, alert POSTed to the receiver → its message on the socket: {latency * 1000:.0f} ms")
        assert first is not None, stack.logs()
        assert first["type"] == "webhook" and first["data"]["raw_payload"]["ID"] == "push-e2e-1", first
        assert first["data"]["user_username"] == "demo" and "Token" not in first["data"]["raw_payload"]
        assert latency < 1.0, f"{latency:.3f} s"

        def settled(received: list[dict[str, Any]]) -> bool:
            seen = {(m["type"], m["data"].get("kind", ""), m["data"]["status"]) for m in received}
            wanted = {("webhook", "", "processed"), ("position", "", "open"), ("order", "entry", "filled")}
            return wanted <= seen and any(kind == "stop_loss" for _, kind, _ in seen)

        rest = await _collect(mine, settled, seconds=10)
        kinds = {(m["type"], m["data"].get("kind") or m["data"].get("status")) for m in [first, *rest]}
        assert ("webhook", "processed") in kinds, (kinds, stack.logs())
        assert ("order", "entry") in kinds and ("order", "stop_loss") in kinds and ("position", "open") in kinds, kinds
        entry = [m["data"] for m in rest if m["type"] == "order" and m["data"]["kind"] == "entry"][-1]
        assert entry["status"] == "filled" and entry["client_order_id"]

        assert await _next_message(theirs, 1.0) is None, "the stranger's socket carried another user's event"
        for ws in (mine, theirs):
            await ws.close()
