"""Webhook tokens through the API: shown once, listed by prefix, and refused by a running receiver within a second of revoking."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async

from apps.webhooks.models import WebhookToken, token_hash
from apps.webhooks.receiver.server import db_token_loader
from tests.receiver.conftest import ReceiverFactory

ALERT = {"Symbol": "BTCUSDT", "Action": "PING"}
LISTED = ["id", "prefix", "label", "created_at", "revoked_at"]


@pytest.mark.django_db
def test_create_shows_the_token_and_its_url_once_and_the_list_only_its_prefix(
    alice, client_for, redis_url, settings
) -> None:
    settings.WEBHOOK_PUBLIC_URL = "https://bot.example.com/"
    api = client_for(alice)

    created = api.post("/api/webhook-tokens/", {"label": "scalping"}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert list(body) == [*LISTED, "token", "webhook_url"]
    assert body["webhook_url"] == f"https://bot.example.com/webhook/{body['token']}"
    record = WebhookToken.objects.get(pk=body["id"])
    assert record.user == alice and record.token_hash == token_hash(body["token"]) and record.label == "scalping"
    assert body["token"].startswith(body["prefix"]) and body["revoked_at"] is None
    listed = api.get("/api/webhook-tokens/")
    assert [list(row) for row in listed.json()["results"]] == [LISTED]
    assert body["token"] not in listed.content.decode() and record.token_hash not in listed.content.decode()
    assert body["token"] not in api.get(f"/api/webhook-tokens/{record.pk}/").content.decode()


@pytest.mark.django_db
def test_label_too_long_is_a_400(alice, client_for, redis_url) -> None:
    answer = client_for(alice).post("/api/webhook-tokens/", {"label": "x" * 101}, format="json")

    assert answer.status_code == 400 and "label" in answer.json()["errors"]


@pytest.mark.django_db
def test_revoke_keeps_the_first_time_and_the_record(alice, client_for, make, redis_url) -> None:
    record = make.token(alice)
    api = client_for(alice)

    first = api.post(f"/api/webhook-tokens/{record.pk}/revoke/")
    again = api.delete(f"/api/webhook-tokens/{record.pk}/")

    assert first.status_code == 200 and first.json()["revoked_at"]
    assert again.status_code == 204
    record.refresh_from_db()
    assert (
        record.revoked_at is not None
        and record.revoked_at.isoformat().replace("+00:00", "Z") == first.json()["revoked_at"]
    )
    assert api.get("/api/webhook-tokens/").json()["results"][0]["revoked_at"] == first.json()["revoked_at"]


async def _accepted(client, plain: str) -> bool:
    return (await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))).status == 200


async def _within_a_second(condition) -> float:
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < 1.0, "the receiver did not follow the API within a second"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("how", ["DELETE", "POST revoke"])
@pytest.mark.django_db(transaction=True)
async def test_token_made_and_revoked_through_the_api_is_followed_by_a_running_receiver_within_a_second(
    how, alice, client_for, receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    api = await sync_to_async(client_for)(alice)
    async with receiver(loader=db_token_loader) as client:
        created = await sync_to_async(api.post)("/api/webhook-tokens/", {"label": "live"}, format="json")
        plain, token_id = created.json()["token"], created.json()["id"]
        await _within_a_second(lambda: _accepted(client, plain))

        if how == "DELETE":
            revoked = await sync_to_async(api.delete)(f"/api/webhook-tokens/{token_id}/")
        else:
            revoked = await sync_to_async(api.post)(f"/api/webhook-tokens/{token_id}/revoke/")

        async def refused() -> bool:
            return not await _accepted(client, plain)

        await _within_a_second(refused)
        final = await client.post(f"/webhook/{plain}", data=orjson.dumps(ALERT))

    assert revoked.status_code in (200, 204)
    assert final.status == 401
