"""Small parts of the receiver on their own: token refresher steps and body redaction."""

from __future__ import annotations

import redis.asyncio as aioredis

from apps.core.streams import TOKENS_VERSION_KEY
from apps.webhooks.models import token_hash
from apps.webhooks.receiver.auth import TokenIndex
from apps.webhooks.receiver.body import body_redacted
from apps.webhooks.receiver.limits import RateLimiter
from apps.webhooks.receiver.refresh import TokenRefresher


def refresher_with(index: TokenIndex, loads: list[dict[str, int] | Exception], redis: aioredis.Redis) -> TokenRefresher:
    async def loader() -> dict[str, int]:
        result = loads.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    return TokenRefresher(
        index=index,
        limiter=RateLimiter(60, 10),
        loader=loader,
        redis=redis,
        poll_seconds=0.3,
        full_reload_seconds=60.0,
    )


async def test_refresher_reloads_only_when_the_version_moves(redis: aioredis.Redis) -> None:
    index = TokenIndex()
    refresher = refresher_with(index, [{"a": 1}, {"a": 1, "b": 2}], redis)
    await refresher.load()

    assert await refresher.step() is False
    await redis.incr(TOKENS_VERSION_KEY)
    assert await refresher.step() is True
    assert len(index) == 2


async def test_refresher_keeps_the_loaded_tokens_when_the_database_fails(redis: aioredis.Redis) -> None:
    index = TokenIndex()
    refresher = refresher_with(index, [{token_hash("abt_kept"): 1}, RuntimeError("database restarting")], redis)
    await refresher.load()
    await redis.incr(TOKENS_VERSION_KEY)

    assert await refresher.step() is False
    assert index.identify("abt_kept") is not None


def test_unparseable_body_is_stored_with_tokens_masked() -> None:
    raw = b'{"Token": "abt_other", "Action": BuyMarket, "Note": "abt_sender"'

    redacted = body_redacted(raw, "abt_sender")

    assert "abt_other" not in redacted and "abt_sender" not in redacted
    assert "BuyMarket" in redacted
