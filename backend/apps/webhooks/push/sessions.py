"""Sockets follow their sign-in: signing out closes the session's sockets; a new password or a
deactivated account closes every socket of the user (their other sessions are no longer valid).

Each socket joins the channel-layer group of its session (`session_group`) beside its user's;
a `sockets.close` message to either group closes the sockets in it with CLOSE_SIGNED_OUT. That
message is the fast path only (Redis may be down, a session can end without a sign-out): each
socket also checks `session_signed_in` when it joins and periodically (consumer.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from importlib import import_module
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from apps.webhooks.push.forwarder import user_group

logger = logging.getLogger("aristobot.push")

CLOSE_SIGNED_OUT = 4403
SEND_TIMEOUT_SECONDS = 2.0  # a sign-out never waits long for Redis
CLOSE_MESSAGE = {"type": "sockets.close"}


def session_signed_in(session_key: str | None, user_id: int | None) -> bool:
    """Whether this session still signs in this user, as the next HTTP request would find it: the
    session exists and has not expired, it names the user, its password hash still matches the
    user's (or one made with a SECRET_KEY_FALLBACKS key) and the user is active. Read only: unlike
    `django.contrib.auth.get_user` it neither flushes nor cycles the session."""
    if not session_key or user_id is None:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    data = store.load()
    if store.session_key is None or str(data.get(SESSION_KEY)) != str(user_id):  # gone, expired, another user
        return False
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not getattr(user, "is_active", True):
        return False
    session_hash = data.get(HASH_SESSION_KEY)
    if not isinstance(session_hash, str) or not session_hash:
        return False
    return constant_time_compare(session_hash, user.get_session_auth_hash()) or any(
        constant_time_compare(session_hash, fallback) for fallback in user.get_session_auth_fallback_hash()
    )


def session_group(session_key: str) -> str:
    """The channel-layer group of one session's sockets (a hash: the session key stays out of Redis)."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


async def _send_close(group: str) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await asyncio.wait_for(layer.group_send(group, dict(CLOSE_MESSAGE)), SEND_TIMEOUT_SECONDS)


def sockets_close(group: str, *, why: str) -> None:
    """Ask every socket of `group` to close; logged, never raised (sign-out must still work)."""
    try:
        async_to_sync(_send_close)(group)
    except Exception as exc:
        logger.warning("live push: could not close the sockets of %s (%s): %s", why, group.split(".")[0], exc)


@receiver(user_logged_out)
def signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Sign-out (API or admin): the sockets opened with this session close now."""
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key:
        sockets_close(session_group(key), why=f"a sign-out of user {getattr(user, 'pk', None)}")


_SECURITY_FIELDS = ("password", "is_active")


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _user_saving(sender: Any, instance: Any, update_fields: Any = None, raw: bool = False, **kwargs: Any) -> None:
    """Note whether this save changes the password or deactivates the user (a login saves only last_login)."""
    instance._sockets_close = False
    if raw or instance.pk is None or (update_fields is not None and not set(_SECURITY_FIELDS) & set(update_fields)):
        return
    before = sender.objects.filter(pk=instance.pk).values(*_SECURITY_FIELDS).first()
    if before is not None:
        instance._sockets_close = before["password"] != instance.password or (
            before["is_active"] and not instance.is_active
        )


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if getattr(instance, "_sockets_close", False):
        instance._sockets_close = False
        user_id = instance.pk
        transaction.on_commit(
            lambda: sockets_close(user_group(user_id), why=f"user {user_id}'s new password or deactivation")
        )
