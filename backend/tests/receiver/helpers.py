"""Constants and helpers shared by the receiver tests."""

from __future__ import annotations

import socket

import redis.asyncio as aioredis

from apps.core.streams import WEBHOOK_RAW, RawAlert
from apps.webhooks.models import token_hash
from apps.webhooks.receiver.refresh import TokenLoader

ALICE_TOKEN = "abt_alice-token-for-tests-0123456789abcdefghijklmno"
ALICE_ID = 101
LEGACY_TOKEN = "legacy-single-user-token"


def static_tokens(tokens: dict[str, int]) -> TokenLoader:
    """A token loader that needs no database: plain token → user id."""
    hashes = {token_hash(token): user_id for token, user_id in tokens.items()}

    async def load() -> dict[str, int]:
        return dict(hashes)

    return load


async def stored_alerts(redis: aioredis.Redis) -> list[RawAlert]:
    """Every alert in the `webhook_raw` stream, oldest first."""
    entries = await redis.xrange(WEBHOOK_RAW) or []
    return [RawAlert.from_fields(fields) for _, fields in entries if fields is not None]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
