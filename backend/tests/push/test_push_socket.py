"""The socket itself: who may open it, and what it answers to what a client sends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.push.conftest import Connect, messages

pytestmark = pytest.mark.integration


async def test_anonymous_socket_is_closed_with_4401(connect: Connect) -> None:
    ws = await connect(None)
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_socket_with_an_invalid_session_is_closed_with_4401(connect: Connect) -> None:
    from channels.testing import WebsocketCommunicator

    from aristobot.asgi import application

    ws = WebsocketCommunicator(
        application, "/ws/webhooks/", headers=[(b"origin", b"http://localhost"), (b"cookie", b"sessionid=forged")]
    )
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("origin", [(b"origin", b"http://evil.example"), None])
async def test_foreign_or_missing_origin_is_refused(connect: Connect, alice: Any, origin: Any) -> None:
    ws = await connect(alice, origin=origin)
    connected, _ = await ws.connect()
    assert not connected


async def test_ping_gets_pong(connect: Connect, alice: Any) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=2) == {"type": "pong"}


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        ("not json", "not valid JSON"),
        ('["ping"]', "unknown message type None"),
        ('{"type": "subscribe"}', "unknown message type 'subscribe'"),
        ('{"no_type": 1}', "unknown message type None"),
        ("x" * 5000, "too long"),
        (" ", "not valid JSON"),
    ],
)
async def test_bad_client_message_gets_an_error_and_the_socket_stays_open(
    connect: Connect, alice: Any, sent: str, says: str
) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    await ws.send_to(text_data=sent)
    answer = await ws.receive_json_from(timeout=2)
    assert answer["type"] == "error" and says in answer["message"]
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=2) == {"type": "pong"}


async def test_binary_frame_gets_an_error(connect: Connect, alice: Any) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    await ws.send_to(bytes_data=b"\x00\x01")
    answer = await ws.receive_json_from(timeout=2)
    assert answer["type"] == "error" and "binary" in answer["message"]


async def test_quiet_socket_receives_nothing_unasked(connect: Connect, alice: Any) -> None:
    ws = await connect(alice)
    assert (await ws.connect())[0]
    assert await messages(ws, quiet=0.3) == []
