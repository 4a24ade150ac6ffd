"""Announcing changes: coalesced, one XADD per flush, never blocking the caller on Redis."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.db import transaction

from apps.core.streams import UI_EVENTS
from apps.webhooks.push.announce import Announcer, announce
from apps.webhooks.push.events import Change, PushEvent, PushKind, changes_decode, changes_encode
from tests.push.test_push_forwarder import RedisProcess

pytestmark = pytest.mark.integration

CREATED, UPDATED = PushEvent.CREATED, PushEvent.UPDATED


class CountingRedis(redis.Redis):
    """A client that counts its round trips: each command sent alone, each pipeline executed."""

    round_trips = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.round_trips += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            return execute(*args, **kwargs)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


def connect_to(url: str, made: list[CountingRedis] | None = None) -> Callable[[], redis.Redis]:
    """A `connect=` for an Announcer that sends to `url`; each client it makes is added to `made`."""

    def connect() -> redis.Redis:
        client = CountingRedis(
            connection_pool=redis.ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        )
        if made is not None:
            made.append(client)
        return client

    return connect


def entries(url: str) -> list[list[Change]]:
    client = redis.Redis.from_url(url)
    try:
        stored: Any = client.xrange(UI_EVENTS)
        return [changes_decode(fields)[0] for _, fields in stored]
    finally:
        client.close()


def test_many_changes_of_one_row_make_one_event_and_created_wins(redis_url: str) -> None:
    announcer = Announcer(connect=connect_to(redis_url))
    announcer.add([Change(PushKind.ORDER, 7, 1, CREATED)])
    announcer.add([Change(PushKind.ORDER, 7, 1, UPDATED)] * 50)
    announcer.add([Change(PushKind.POSITION, 3, 1, UPDATED), Change(PushKind.POSITION, 3, 1, UPDATED)])
    assert announcer.flush() == 2
    assert entries(redis_url) == [[Change(PushKind.ORDER, 7, 1, CREATED), Change(PushKind.POSITION, 3, 1, UPDATED)]]


def test_a_flush_is_one_round_trip_of_few_entries(redis_url: str) -> None:
    made: list[CountingRedis] = []
    announcer = Announcer(connect=connect_to(redis_url, made))
    announcer._thread = threading.Thread(target=lambda: None)  # never started: only this flush sends
    announcer.add(Change(PushKind.POSITION, pk, 1, UPDATED) for pk in range(1, 1201))
    announcer.flush()
    stored = entries(redis_url)
    assert [len(entry) for entry in stored] == [500, 500, 200]
    assert {change.pk for entry in stored for change in entry} == set(range(1, 1201))
    assert len(made) == 1 and made[0].round_trips == 1

    announcer.add([Change(PushKind.ORDER, 1, 1, CREATED)])  # a small flush: one XADD, same connection
    announcer.flush()
    assert len(made) == 1 and made[0].round_trips == 2


def test_background_thread_sends_within_a_fraction_of_a_second(redis_url: str) -> None:
    announcer = Announcer(connect=connect_to(redis_url))
    announcer.add([Change(PushKind.WEBHOOK, 1, 2, CREATED)])
    deadline = time.monotonic() + 0.5
    while not entries(redis_url) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert entries(redis_url) == [[Change(PushKind.WEBHOOK, 1, 2, CREATED)]]


def test_redis_down_keeps_changes_until_it_is_back() -> None:
    server = RedisProcess()  # not started yet: nothing listens on its port
    made: list[CountingRedis] = []
    announcer = Announcer(connect=connect_to(server.url, made))
    try:
        announcer.add([Change(PushKind.ORDER, 1, 1, CREATED)])
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            announcer.flush()
        assert time.monotonic() - started < 3
        announcer.add([Change(PushKind.ORDER, 1, 1, UPDATED), Change(PushKind.ORDER, 2, 1, UPDATED)])
        assert announcer.pending_count() == 2

        server.start()
        deadline = time.monotonic() + 5  # the thread retries with backoff
        while not entries(server.url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert entries(server.url) == [[Change(PushKind.ORDER, 1, 1, CREATED), Change(PushKind.ORDER, 2, 1, UPDATED)]]
        assert len(made) == 1  # the same client reconnected
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def test_pending_changes_are_bounded_while_redis_is_down() -> None:
    announcer = Announcer(max_pending=3, connect=connect_to("redis://127.0.0.1:1/0"))  # nothing listens there
    announcer._thread = threading.Thread(target=lambda: None)  # never started: flush by hand
    announcer.add(Change(PushKind.ORDER, pk, 1, UPDATED) for pk in range(5))
    assert announcer.pending_count() == 3 and announcer.dropped == 2
    with pytest.raises(redis.ConnectionError):
        announcer.flush()
    assert announcer.pending_count() == 3


@pytest.mark.django_db
def test_changes_are_announced_when_the_transaction_commits_not_before(django_capture_on_commit_callbacks: Any) -> None:
    from apps.webhooks.push import announce as module

    sent: list[Any] = []
    original = module.announcer.add
    module.announcer.add = sent.extend  # type: ignore[method-assign, assignment]
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
            announce([Change(PushKind.ORDER, 1, 1, CREATED)])
            assert sent == []
        assert len(callbacks) == 1 and sent == [Change(PushKind.ORDER, 1, 1, CREATED)]
        sent.clear()
        with pytest.raises(RuntimeError), transaction.atomic():
            announce([Change(PushKind.ORDER, 2, 1, CREATED)])
            raise RuntimeError("rolled back")
        assert sent == []
    finally:
        module.announcer.add = original  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {b"events": b"not json"},
        {b"events": b'{"a": 1}'},
        {b"events": b'[["order", "x", 1, "created"]]'},
        {b"events": b'[["trade", 1, 1, "created"]]'},
        {b"events": b'[["order", 1, 1, "deleted"]]'},
        {b"events": b'[["order", 1]]'},
        {b"events": b"[null]"},
    ],
)
def test_unreadable_entries_decode_to_nothing(fields: dict[bytes, bytes]) -> None:
    changes, bad = changes_decode(fields)
    assert changes == [] and bad >= 1


def test_encoded_changes_decode_to_themselves() -> None:
    changes = [Change(PushKind.WEBHOOK, 1, 2, CREATED), Change(PushKind.ORDER, 3, 2, UPDATED)]
    encoded = {key.encode(): value for key, value in changes_encode(changes).items()}
    assert changes_decode(encoded) == (changes, 0)
