"""The WebSocket `/ws/webhooks/`: a signed-in user's live alerts, positions and orders.

Sent: `{"type": "webhook"|"position"|"order", "event": "created"|"updated", "data": {…}}`
(`data` as the REST API shows the object), `{"type": "pong"}`, `{"type": "error", "message": …}`.
Received: `{"type": "ping"}`. Anonymous sockets are closed with code 4401, and with 1013
(try again later) when the channel layer's Redis is unreachable. Signing out closes the
session's sockets with 4403; a new password or a deactivation closes all the user's (sessions.py).
That message is only the fast path: each socket also checks its sign-in when it has joined and
then every SESSION_CHECK_SECONDS (`session_signed_in`), and closes with 4403 once the session is
gone or expired, the password changed or the user deactivated, however that happened (Redis down
at sign-out, `clearsessions`, the admin, a QuerySet update), and 1013 when it cannot tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.webhooks.push.forwarder import forwarder_ensure, user_group
from apps.webhooks.push.sessions import CLOSE_SIGNED_OUT, session_group, session_signed_in

logger = logging.getLogger("aristobot.push")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TRY_AGAIN = 1013  # the channel layer (Redis) is unreachable: reconnect later
MAX_CLIENT_MESSAGE = 4096
READY_WAIT_SECONDS = 2.0
REJOIN_EVERY_SECONDS = 3600.0  # the channel layer forgets group members after a day (group_expiry)
SESSION_CHECK_SECONDS = 30.0  # the longest a socket outlives its sign-in when the close message is lost


class PushConsumer(AsyncWebsocketConsumer):
    """One browser socket; joins the group of its user only."""

    user_id: int | None = None
    session_key: str | None = None
    groups_joined: tuple[str, ...] = ()
    session_check_seconds = SESSION_CHECK_SECONDS
    _rejoin: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()  # accepted first so the browser sees the code, not a bare failed handshake
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.session_key = session_key = getattr(self.scope.get("session"), "session_key", None)
        self.groups_joined = (user_group(user.pk), *([session_group(session_key)] if session_key else []))
        if not await self._join():
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        # A sign-out between the handshake and the join sent its close message before we listened.
        closing = await self._sign_in_lost()
        if closing is not None:
            await self.accept()
            await self.close(code=closing)
            return
        forwarder = forwarder_ensure()
        with contextlib.suppress(TimeoutError):  # Redis down: connect anyway, pushes start when it is back
            await asyncio.wait_for(forwarder.ready.wait(), READY_WAIT_SECONDS)
        await self.accept()
        self._rejoin = asyncio.get_running_loop().create_task(self._keep_joined())

    async def disconnect(self, code: int) -> None:
        if self._rejoin is not None:
            self._rejoin.cancel()
        for group in self.groups_joined:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def _join(self) -> bool:
        """Join the user's and the session's groups; once more after a failure (a pooled connection
        Redis dropped on restart)."""
        for attempt in range(2):
            try:
                for group in self.groups_joined:
                    await self.channel_layer.group_add(group, self.channel_name)
                return True
            except Exception as exc:
                logger.warning("live push: could not join the group of user %s: %s", self.user_id, exc)
                await asyncio.sleep(0.1 * (attempt + 1))
        return False

    async def _sign_in_lost(self) -> int | None:
        """The close code when this socket's sign-in no longer holds (None while it does)."""
        try:
            signed_in = await database_sync_to_async(session_signed_in)(self.session_key, self.user_id)
        except Exception as exc:
            logger.warning("live push: could not check the sign-in of user %s: %s", self.user_id, exc)
            return CLOSE_TRY_AGAIN
        return None if signed_in else CLOSE_SIGNED_OUT

    async def _keep_joined(self) -> None:
        """Check the sign-in every session_check_seconds (closing the socket once it is lost) and
        join the groups again every REJOIN_EVERY_SECONDS."""
        loop = asyncio.get_running_loop()
        joined_at = loop.time()
        while True:
            await asyncio.sleep(self.session_check_seconds)
            closing = await self._sign_in_lost()
            if closing is not None:
                await self.close(code=closing)
                return
            if loop.time() - joined_at >= REJOIN_EVERY_SECONDS:
                joined_at = loop.time()
                for group in self.groups_joined:
                    with contextlib.suppress(Exception):
                        await self.channel_layer.group_add(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user_id is None:
            return
        if text_data is None:
            await self._error("send text frames with JSON, not binary")
            return
        if len(text_data) > MAX_CLIENT_MESSAGE:
            await self._error(f"message too long (over {MAX_CLIENT_MESSAGE} characters)")
            return
        try:
            message: Any = json.loads(text_data)
        except ValueError:
            await self._error("message is not valid JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await self._send({"type": "pong"})
            return
        await self._error(f'unknown message type {kind!r}: the only message accepted is {{"type": "ping"}}')

    async def push_messages(self, event: dict[str, Any]) -> None:
        """Messages from the forwarder (already JSON), for this socket's user only."""
        if event.get("user") != self.user_id:  # a second guard: groups are per user already
            logger.error("live push for user %s reached a socket of user %s: dropped", event.get("user"), self.user_id)
            return
        for text in event["texts"]:
            await self.send(text_data=text)

    async def sockets_close(self, event: dict[str, Any]) -> None:
        """The session signed out (or the user's password changed): this socket ends now."""
        await self.close(code=CLOSE_SIGNED_OUT)

    async def _error(self, message: str) -> None:
        await self._send({"type": "error", "message": message})

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))
