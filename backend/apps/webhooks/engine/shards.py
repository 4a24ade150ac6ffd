"""Several engine processes on one stream: partitions are split into shards, each shard is
read through a consumer group of its own, and each shard is owned by one engine at a time.

Why not one group shared by every engine: Redis hands the entries of a group to whichever
consumer asks, so two alerts of one broker and symbol could run at once in two processes,
or out of order. Instead every shard group sees every entry; the engine owning shard k
handles the entries whose partition's user hashes to k (`partitions.shard_key`: the same in
every engine whatever markets it has loaded) and acknowledges the others unread. One owner per shard keeps each partition in stream order, and the owner
changes only through a lease, so a dead engine's shards (and their pending entries) are
taken over by the others within `lease_seconds`.

Leases are Redis keys `engine:shard:<k>` holding the owner's consumer name with a time to
live (LEASE_SECONDS), renewed every RENEW_SECONDS by a background thread and between batches,
so a killed engine's shards are free again within two seconds. Live engines register in the
sorted set `engine:members`; each takes at most its fair share (shards / live engines, rounded
up), so a second engine gets half of the shards once the first gives them up between batches.

Safety: an engine counts a shard as its own only until its last renewal plus three quarters of
the lease (`holds`), so it stops starting entries of a shard before another engine can take it,
even when it was frozen or cut off from Redis. After such an outage (its renewals failed for a
lease or more) it first takes back only the shards it held, for one lease, so that engines
coming back together each find their own shards again instead of swapping them mid-batch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import zlib
from typing import Any

import redis

from apps.core.streams import ENGINE_GROUP, entry_order, text
from trading.errors import ConfigurationError

logger = logging.getLogger("aristobot.engine")

MEMBERS_KEY = "engine:members"
SHARDS_KEY = "engine:shards"  # the shard count the groups were laid out for
LEASE_PREFIX = "engine:shard:"
LEASE_SECONDS = 2.0  # a dead engine's shards are free after at most this long
RENEW_SECONDS = 0.5  # four renewals per lease: one slow or failed renewal loses nothing
HOLD_FRACTION = 0.75  # of the lease after a renewal during which the engine starts entries

# ARGV: consumer, lease ms, mode. A lease under our own name is extended (after a restart
# too); a free one is taken unless the mode is "renew" (an expired lease may have changed hands).
_LEASE = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if owner or ARGV[3] == 'renew' then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def shard_group(shard: int) -> str:
    """The consumer group of a shard; shard 0 keeps the historical name `engine`."""
    return ENGINE_GROUP if shard == 0 else f"{ENGINE_GROUP}:{shard}"


def shard_of(partition: str, count: int) -> int:
    """The shard of a partition key: stable across processes and restarts (CRC-32)."""
    return zlib.crc32(partition.encode()) % count if count > 1 else 0


class ShardLeases:
    """The shards this engine owns. A background thread keeps membership and leases fresh;
    the engine calls `owned()` before each batch and `release_surplus()` between batches."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        consumer: str,
        count: int,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float | None = None,
    ) -> None:
        self.redis = client
        self.consumer = consumer
        self.count = count
        self.lease_ms = int(lease_seconds * 1000)
        self.renew_seconds = min(RENEW_SECONDS, lease_seconds / 4) if renew_seconds is None else renew_seconds
        self._owned: set[int] = set()
        self._valid_until: dict[int, float] = {}  # shard → monotonic time until which we start its entries
        self._last_tick_ok: float | None = None  # monotonic time of the last tick that reached Redis
        self._previous: set[int] = set()  # shards held before an outage: taken back first
        self._grace_until = 0.0  # until then, after an outage, only `_previous` shards are taken
        self._lock = threading.Lock()  # one tick or release at a time (thread and engine), and _owned
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease: Any = client.register_script(_LEASE)
        self._release: Any = client.register_script(_RELEASE)

    def start(self) -> None:
        """Take this engine's share now (so the first batch runs at once), then keep it fresh."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="engine-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give up every shard and leave, so the other engines take over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            owned, self._owned = set(self._owned), set()
        with contextlib.suppress(redis.RedisError):
            for shard in owned:
                self._release(keys=[LEASE_PREFIX + str(shard)], args=[self.consumer])
            self.redis.zrem(MEMBERS_KEY, self.consumer)

    def owned(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._owned)

    def holds(self, shard: int) -> bool:
        """Whether this engine may start another entry of `shard` now: it owns the shard and renewed
        its lease recently enough that no other engine can have taken it."""
        with self._lock:
            return shard in self._owned and time.monotonic() < self._valid_until.get(shard, 0.0)

    def fair_share(self, now: float | None = None) -> int:
        """Shards per live engine, rounded up: what this engine may hold."""
        now = time.time() if now is None else now
        live = int(self.redis.zcount(MEMBERS_KEY, now - self.lease_ms / 1000, "+inf"))
        return math.ceil(self.count / max(1, live))

    def tick(self) -> frozenset[int]:
        """Say we are alive, renew our leases (dropping lost ones) and take free shards up to
        our fair share. Never gives a shard up: that waits for the engine's next batch."""
        with self._lock:
            return self._tick()

    def _leased(self, shard: int, *, mode: str) -> bool:
        return bool(self._lease(keys=[LEASE_PREFIX + str(shard)], args=[self.consumer, self.lease_ms, mode]))

    def _tick(self) -> frozenset[int]:
        started = time.monotonic()
        lease_s = self.lease_ms / 1000
        held = sorted(self._owned)
        if held and self._last_tick_ok is not None and started - self._last_tick_ok > lease_s:
            # Our leases may have expired meanwhile (Redis restarted, or we were frozen): take back
            # our own shards first, before the others' member records are fresh again.
            self._previous = set(held) | self._previous
            self._grace_until = started + lease_s
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(MEMBERS_KEY, {self.consumer: now})
        pipe.zremrangebyscore(MEMBERS_KEY, "-inf", now - 10 * lease_s)
        pipe.execute()
        lost = {shard for shard in held if not self._leased(shard, mode="renew")}
        share = self.fair_share(now)
        gained: set[int] = set()
        kept = len(held) - len(lost)
        # Start the search at a place of our own, so that engines starting together rarely collide;
        # shards we held before an outage come first (and alone during the grace period).
        offset = zlib.crc32(self.consumer.encode()) % self.count
        order = [(offset + step) % self.count for step in range(self.count)]
        grace = started < self._grace_until
        order = sorted(order, key=lambda shard: shard not in self._previous)
        for shard in order:
            if kept + len(gained) >= share:
                break
            if shard in held and shard not in lost:
                continue
            if grace and shard not in self._previous:
                break
            if self._leased(shard, mode="take"):
                gained.add(shard)
        if not grace:
            self._previous = set()
        self._owned = (self._owned - lost) | gained
        valid_until = started + lease_s * HOLD_FRACTION  # measured from before the renewal was sent
        self._valid_until = {shard: valid_until for shard in self._owned}
        self._last_tick_ok = started
        owned = frozenset(self._owned)
        for shard in sorted(lost - gained):
            logger.warning("engine %s lost shard %d (lease expired): another engine owns it now", self.consumer, shard)
        if gained - lost:
            logger.info("engine %s took shard(s) %s of %d", self.consumer, sorted(gained - lost), self.count)
        return owned

    def release_surplus(self) -> set[int]:
        """Give up the shards above our fair share (between batches, never mid-batch)."""
        with self._lock:
            return self._release_surplus()

    def _release_surplus(self) -> set[int]:
        owned = sorted(self._owned)
        surplus = len(owned) - self.fair_share()
        if surplus <= 0:
            return set()
        released = set(owned[-surplus:])
        self._owned -= released
        for shard in released:
            self._valid_until.pop(shard, None)
        for shard in released:
            self._release(keys=[LEASE_PREFIX + str(shard)], args=[self.consumer])
        logger.info("engine %s gave shard(s) %s to the other engines", self.consumer, sorted(released))
        return released

    def _run(self) -> None:
        while not self._stop.wait(self.renew_seconds):
            try:
                self.tick()
            except redis.RedisError as exc:
                logger.warning("engine %s could not renew its shard leases: %s", self.consumer, exc)


def engine_groups(client: redis.Redis) -> list[str]:
    """The engine's shard groups as laid out now (for tools and tests)."""
    stored = client.get(SHARDS_KEY)
    return [shard_group(shard) for shard in range(int(stored) if stored else 1)]


def engine_pending(client: redis.Redis, stream: str) -> int:
    """Entries of `stream` read by an engine and not yet acknowledged, over every shard group."""
    total = 0
    for group in engine_groups(client):
        try:
            total += int(client.xpending(stream, group)["pending"])
        except redis.ResponseError:
            continue  # no such group yet
    return total


def _groups(client: redis.Redis, stream: str) -> dict[str, dict[str, Any]]:
    try:
        infos: Any = client.xinfo_groups(stream)
    except redis.ResponseError:
        return {}
    return {text(info["name"]): info for info in infos}


def _is_engine_group(name: str) -> bool:
    return name == ENGINE_GROUP or (name.startswith(ENGINE_GROUP + ":") and name[len(ENGINE_GROUP) + 1 :].isdigit())


def groups_prepare(client: redis.Redis, streams: tuple[str, ...], count: int, *, consumer: str) -> None:
    """Create the shard groups of each stream, or lay them out again when ENGINE_SHARDS changed.

    New groups start from the beginning of a stream nobody read yet. A change of the shard
    count is refused while any engine group has pending entries or another engine is alive;
    otherwise every group is set to the point all of them had read (re-delivering at most what
    some group read ahead: handled again without effect, as after a crash).
    """
    if count < 1:
        raise ConfigurationError("ENGINE_SHARDS must be 1 or more")
    with _layout_lock(client):
        stored = client.get(SHARDS_KEY)
        existing = {
            stream: {n: i for n, i in _groups(client, stream).items() if _is_engine_group(n)} for stream in streams
        }
        previous = int(stored) if stored else (max((len(g) for g in existing.values()), default=0) or None)
        if previous is not None and previous != count:
            _relayout_check(client, existing, previous=previous, count=count, consumer=consumer)
        for stream in streams:
            groups = existing[stream]
            delivered = [text(info["last-delivered-id"]) for info in groups.values()]
            start = min(delivered, key=entry_order) if delivered else "0"
            wanted = {shard_group(shard) for shard in range(count)}
            for name in sorted(set(groups) - wanted):
                client.xgroup_destroy(stream, name)
            for name in sorted(wanted):
                if name not in groups:
                    client.xgroup_create(stream, name, id=start, mkstream=True)
                elif previous is not None and previous != count:
                    client.xgroup_setid(stream, name, id=start)
        if previous is not None and previous != count:
            logger.warning("engine groups laid out again for %d shard(s) (were %d)", count, previous)
        client.set(SHARDS_KEY, count)


def _relayout_check(
    client: redis.Redis, existing: dict[str, dict[str, dict[str, Any]]], *, previous: int, count: int, consumer: str
) -> None:
    pending = sum(int(info.get("pending", 0)) for groups in existing.values() for info in groups.values())
    members: Any = client.zrangebyscore(MEMBERS_KEY, time.time() - 30, "+inf")
    others = [text(name) for name in members if text(name) != consumer]
    if pending or others:
        why = f"{pending} entries are pending" if pending else f"engine(s) {', '.join(others)} are running"
        raise ConfigurationError(
            f"ENGINE_SHARDS changed from {previous} to {count} while {why}: set it back to {previous}, "
            "stop every engine once `manage.py status` shows nothing pending, then change it"
        )


@contextlib.contextmanager
def _layout_lock(client: redis.Redis) -> Any:
    lock = client.lock("engine:layout-lock", timeout=30, blocking_timeout=30)
    if not lock.acquire():
        raise TimeoutError("another engine holds engine:layout-lock for more than 30 s")
    try:
        yield
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()
