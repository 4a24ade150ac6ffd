"""Token services and the receiver's reload: a revoked token stops working within a second."""

from __future__ import annotations

import asyncio
import time
from io import StringIO

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command

from apps.core.streams import TOKENS_VERSION_KEY
from apps.webhooks.models import WebhookToken, token_hash
from apps.webhooks.receiver.server import db_token_loader
from apps.webhooks.tokens import token_create, token_index_load, token_revoke

from .conftest import ReceiverFactory
from .helpers import closed_port

ALERT = {"Symbol": "BTCUSDT", "Action": "PING"}


def _version(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.get(TOKENS_VERSION_KEY) or 0)
    finally:
        client.close()


@pytest.mark.django_db
def test_token_create_stores_only_the_hash_and_bumps_the_version_after_commit(
    alice, redis_url: str, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        record, plain = token_create(user=alice, label="scalping")
        assert _version(redis_url) == 0  # not before the commit

    assert _version(redis_url) == 1
    assert plain.startswith("abt_")
    assert record.token_hash == token_hash(plain)
    assert plain not in {record.prefix, record.token_hash, record.label}
    assert token_index_load() == {record.token_hash: alice.pk}


@pytest.mark.django_db
def test_token_revoke_sets_revoked_at_and_bumps_the_version(
    alice, redis_url: str, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = token_create(user=alice)
        token_revoke(token=record)

    record.refresh_from_db()
    assert record.revoked_at is not None
    assert _version(redis_url) == 2
    assert token_index_load() == {}


@pytest.mark.django_db
def test_token_revoke_survives_redis_being_down(alice, settings, django_capture_on_commit_callbacks, caplog) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    with django_capture_on_commit_callbacks(execute=True):
        record, _ = token_create(user=alice)
        token_revoke(token=record)

    assert WebhookToken.objects.get(pk=record.pk).revoked_at is not None
    assert "receivers not told" in caplog.text


@pytest.mark.django_db
def test_token_index_leaves_out_revoked_tokens_and_inactive_users(
    alice, bob, charlie, redis_url: str, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        kept, _ = token_create(user=alice)
        revoked, _ = token_create(user=bob)
        token_revoke(token=revoked)
        token_create(user=charlie)
    charlie.is_active = False
    charlie.save()

    assert token_index_load() == {kept.token_hash: alice.pk}


@pytest.mark.django_db(transaction=True)
async def test_revoked_token_is_refused_within_a_second(
    alice, receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    record, plain = await sync_to_async(token_create)(user=alice)
    async with receiver(loader=db_token_loader) as client:
        accepted = await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))
        await sync_to_async(token_revoke)(token=record)
        revoked_at = time.monotonic()
        while (await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))).status == 200:
            assert time.monotonic() - revoked_at < 1.0, "revoked token still accepted after a second"
            await asyncio.sleep(0.05)
        refused = await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))

    assert accepted.status == 200
    assert refused.status == 401


@pytest.mark.django_db(transaction=True)
async def test_new_token_is_accepted_within_a_second(alice, receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    async with receiver(loader=db_token_loader) as client:
        _, plain = await sync_to_async(token_create)(user=alice)
        created_at = time.monotonic()
        while (await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))).status == 401:
            assert time.monotonic() - created_at < 1.0, "new token still refused after a second"
            await asyncio.sleep(0.05)
        health = await (await client.get("/health")).json()

    assert health["tokens_loaded"] == 1


@pytest.mark.django_db
def test_create_webhook_token_prints_the_token_last(alice, redis_url: str) -> None:
    out = StringIO()
    call_command("create_webhook_token", "alice", "--label", "swing", stdout=out)

    lines = out.getvalue().strip().splitlines()
    token = lines[-1]
    record = WebhookToken.objects.get(token_hash=token_hash(token))
    assert record.user == alice and record.label == "swing"
    assert all(token not in line for line in lines[:-1])


@pytest.mark.django_db
def test_create_webhook_token_for_an_unknown_user_fails_clearly() -> None:
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("create_webhook_token", "nobody")


@pytest.mark.django_db(transaction=True)
async def test_deactivated_users_token_is_refused_within_a_second(
    alice, receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    _, plain = await sync_to_async(token_create)(user=alice)
    async with receiver(loader=db_token_loader) as client:
        accepted = await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))
        alice.is_active = False
        await sync_to_async(alice.save)()
        deactivated_at = time.monotonic()
        while (await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))).status == 200:
            assert time.monotonic() - deactivated_at < 1.0, "deactivated user's token still accepted after a second"
            await asyncio.sleep(0.05)

    assert accepted.status == 200
