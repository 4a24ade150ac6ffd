"""Sockets follow their sign-in: a sign-out closes that session's sockets, a new password all the user's."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.webhooks.push import sessions as sessions_module
from apps.webhooks.push.consumer import PushConsumer
from apps.webhooks.push.sessions import CLOSE_SIGNED_OUT, session_signed_in
from aristobot.asgi import application
from tests.push.conftest import ORIGIN, Connect, session_cookie
from tests.receiver.helpers import closed_port

pytestmark = pytest.mark.integration

Open = Callable[[str], Awaitable[WebsocketCommunicator]]


@pytest.fixture
async def open_socket(connect: Connect) -> AsyncIterator[Open]:
    """Open a socket with a given session cookie (the `connect` fixture sets up the channel layer)."""
    opened: list[WebsocketCommunicator] = []

    async def open_with(cookie: str) -> WebsocketCommunicator:
        ws = WebsocketCommunicator(
            application, "/ws/webhooks/", headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())]
        )
        opened.append(ws)
        connected, _ = await ws.connect()
        assert connected
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=3) == {"type": "pong"}
        return ws

    yield open_with
    for ws in opened:
        with contextlib.suppress(Exception):
            await ws.disconnect()


async def new_session(user: Any) -> str:
    return await database_sync_to_async(session_cookie)(user)


def api_sign_out(cookie: str) -> int:
    client = APIClient()
    client.cookies["sessionid"] = cookie
    return client.post("/api/auth/logout/").status_code


async def closed_with(ws: WebsocketCommunicator, *, seconds: float = 3.0) -> int | None:
    """The close code the server sent within `seconds` (None: still open, it answers a ping)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await ws.receive_nothing(timeout=0.05, interval=0.01):
            output = await ws.receive_output()
            if output["type"] == "websocket.close":
                return int(output["code"])
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=3) == {"type": "pong"}
    return None


async def test_api_sign_out_closes_that_sessions_sockets_at_once(open_socket: Open, alice: Any) -> None:
    cookie = await new_session(alice)
    first, second = await open_socket(cookie), await open_socket(cookie)

    assert await database_sync_to_async(api_sign_out)(cookie) == 204

    assert await closed_with(first, seconds=2) == CLOSE_SIGNED_OUT
    assert await closed_with(second, seconds=2) == CLOSE_SIGNED_OUT


async def test_admin_sign_out_closes_the_sessions_socket(open_socket: Open, alice: Any) -> None:
    alice.is_staff = True
    await database_sync_to_async(alice.save)()
    cookie = await new_session(alice)
    ws = await open_socket(cookie)

    def admin_sign_out() -> int:
        client = Client()
        client.cookies["sessionid"] = cookie
        return client.post("/admin/logout/").status_code

    assert await database_sync_to_async(admin_sign_out)() == 200

    assert await closed_with(ws, seconds=2) == CLOSE_SIGNED_OUT


async def test_signing_out_one_session_leaves_the_users_other_sessions_open(open_socket: Open, alice: Any) -> None:
    laptop, phone = await new_session(alice), await new_session(alice)
    on_laptop, on_phone = await open_socket(laptop), await open_socket(phone)

    await database_sync_to_async(api_sign_out)(laptop)

    assert await closed_with(on_laptop) == CLOSE_SIGNED_OUT
    assert await closed_with(on_phone, seconds=0.5) is None


async def test_the_stranger_signing_out_closes_nothing_of_alices(open_socket: Open, alice: Any, charlie: Any) -> None:
    alices = await open_socket(await new_session(alice))
    charlies_cookie = await new_session(charlie)
    charlies = await open_socket(charlies_cookie)

    await database_sync_to_async(api_sign_out)(charlies_cookie)

    assert await closed_with(charlies) == CLOSE_SIGNED_OUT
    assert await closed_with(alices, seconds=0.5) is None


async def test_a_new_password_closes_every_socket_of_the_user_only(open_socket: Open, alice: Any, bob: Any) -> None:
    on_laptop, on_phone = await open_socket(await new_session(alice)), await open_socket(await new_session(alice))
    bobs = await open_socket(await new_session(bob))

    def change_password() -> None:
        alice.set_password("a-new-password")
        alice.save()

    await database_sync_to_async(change_password)()

    assert await closed_with(on_laptop) == CLOSE_SIGNED_OUT
    assert await closed_with(on_phone) == CLOSE_SIGNED_OUT
    assert await closed_with(bobs, seconds=0.5) is None


async def test_a_sign_in_that_saves_last_login_closes_nothing(open_socket: Open, alice: Any) -> None:
    ws = await open_socket(await new_session(alice))

    await new_session(alice)  # a login saves last_login only

    assert await closed_with(ws, seconds=0.5) is None


def test_sign_out_works_when_the_channel_layer_is_down(alice: Any, settings: Any, db: None) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{closed_port()}/0"]},
        }
    }
    cookie = session_cookie(alice)

    started = time.monotonic()
    assert api_sign_out(cookie) == 204
    assert time.monotonic() - started < 3
    client = APIClient()
    client.cookies["sessionid"] = cookie
    assert client.get("/api/auth/me/").status_code == 403


# --- The fast path can be lost: every socket also checks its sign-in periodically -------------

CHECK_SECONDS = 0.1


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sockets check their sign-in every CHECK_SECONDS instead of every 30 s."""
    monkeypatch.setattr(PushConsumer, "session_check_seconds", CHECK_SECONDS)


def end_session(cookie: str) -> None:
    Session.objects.filter(session_key=cookie).delete()


async def test_a_socket_closes_when_its_session_is_deleted_without_a_sign_out(
    open_socket: Open, alice: Any, quick_checks: None
) -> None:
    cookie = await new_session(alice)
    ws = await open_socket(cookie)

    await database_sync_to_async(end_session)(cookie)  # the admin, clearsessions, a flush elsewhere

    assert await closed_with(ws, seconds=2) == CLOSE_SIGNED_OUT


async def test_a_socket_closes_when_its_session_expires(open_socket: Open, alice: Any, quick_checks: None) -> None:
    cookie = await new_session(alice)
    ws = await open_socket(cookie)

    def expire() -> None:
        Session.objects.filter(session_key=cookie).update(expire_date=timezone.now() - timedelta(seconds=1))

    await database_sync_to_async(expire)()

    assert await closed_with(ws, seconds=2) == CLOSE_SIGNED_OUT


async def test_a_socket_closes_when_the_password_changes_without_signals(
    open_socket: Open, alice: Any, quick_checks: None
) -> None:
    ws = await open_socket(await new_session(alice))

    def change_password_by_update() -> None:
        type(alice).objects.filter(pk=alice.pk).update(password=make_password("changed-by-update"))

    await database_sync_to_async(change_password_by_update)()

    assert await closed_with(ws, seconds=2) == CLOSE_SIGNED_OUT


async def test_a_socket_closes_when_the_user_is_deactivated_without_signals(
    open_socket: Open, alice: Any, quick_checks: None
) -> None:
    ws = await open_socket(await new_session(alice))

    await database_sync_to_async(type(alice).objects.filter(pk=alice.pk).update)(is_active=False)

    assert await closed_with(ws, seconds=2) == CLOSE_SIGNED_OUT


async def test_a_socket_closes_after_a_sign_out_whose_close_message_was_lost(
    open_socket: Open, alice: Any, quick_checks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = await new_session(alice)
    ws = await open_socket(cookie)

    async def redis_down(group: str) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(sessions_module, "_send_close", redis_down)
    assert await database_sync_to_async(api_sign_out)(cookie) == 204

    assert await closed_with(ws, seconds=2) == CLOSE_SIGNED_OUT


async def test_a_socket_whose_sign_out_raced_its_connect_closes_at_once(
    connect: Connect, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign-out lands between the handshake (user found) and the join: its close message had
    no listener yet. The check after the join closes it, without waiting for the periodic one."""
    cookie = await new_session(alice)
    real_join = PushConsumer._join

    async def join_after_sign_out(self: PushConsumer) -> bool:
        await database_sync_to_async(end_session)(cookie)
        return await real_join(self)

    monkeypatch.setattr(PushConsumer, "_join", join_after_sign_out)
    ws = WebsocketCommunicator(
        application, "/ws/webhooks/", headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())]
    )
    try:
        await ws.connect()
        assert (await ws.receive_output(timeout=2)) == {"type": "websocket.close", "code": CLOSE_SIGNED_OUT}
    finally:
        with contextlib.suppress(Exception):
            await ws.disconnect()


async def test_a_signed_in_socket_stays_open_across_checks(open_socket: Open, alice: Any, quick_checks: None) -> None:
    ws = await open_socket(await new_session(alice))

    assert await closed_with(ws, seconds=5 * CHECK_SECONDS) is None


def test_session_signed_in_is_read_only_and_strict(alice: Any, bob: Any, db: None) -> None:
    cookie = session_cookie(alice)

    assert session_signed_in(cookie, alice.pk)
    assert not session_signed_in(cookie, bob.pk)
    assert not session_signed_in("no-such-session", alice.pk)
    assert not session_signed_in(None, alice.pk)
    assert Session.objects.filter(session_key=cookie).exists()
