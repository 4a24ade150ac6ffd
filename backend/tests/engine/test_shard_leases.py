"""Shard leases short enough that a killed engine's work resumes within seconds, and safe: an
engine stops starting entries before its lease can pass to another, and after an outage takes
back its own shards rather than another's."""

from __future__ import annotations

import time

import pytest

from apps.webhooks.engine.shards import LEASE_PREFIX, LEASE_SECONDS, RENEW_SECONDS, ShardLeases

pytestmark = pytest.mark.integration


def test_a_killed_engines_shards_are_free_within_three_seconds():
    assert LEASE_SECONDS + RENEW_SECONDS <= 3.0
    assert LEASE_SECONDS / RENEW_SECONDS >= 4  # a renewal can fail (or be late) three times in a row


def test_an_engine_holds_a_shard_only_while_its_last_renewal_is_recent(redis_client):
    leases = ShardLeases(redis_client, consumer="engine-a", count=2, lease_seconds=0.4)
    leases.tick()
    assert leases.holds(0) and leases.holds(1)
    time.sleep(0.32)  # past three quarters of the lease, not renewed: start nothing more
    assert not leases.holds(0)
    leases.tick()
    assert leases.holds(0)
    leases.stop()


def test_after_an_outage_each_engine_takes_back_its_own_shards(redis_client):
    first = ShardLeases(redis_client, consumer="engine-a", count=4, lease_seconds=0.5)
    second = ShardLeases(redis_client, consumer="engine-b", count=4, lease_seconds=0.5)
    first.tick()
    second.tick()  # registered, all shards taken: waits for its share
    first.release_surplus()
    second.tick()
    mine, theirs = first.owned(), second.owned()
    assert len(mine) == 2 and len(theirs) == 2
    time.sleep(0.7)  # nobody renewed (Redis was away): every lease and member record is stale
    redis_client.delete(*[f"{LEASE_PREFIX}{shard}" for shard in range(4)])
    # The second engine comes back first; it sees itself alone, yet takes only what it held.
    assert second.tick() == theirs
    assert first.tick() == mine
    first.stop()
    second.stop()
