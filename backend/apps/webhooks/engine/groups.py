"""The engine's consumer group on each stream: one group, `engine`, read by the active engine.

Before issue 13 the engine read every stream through one group per shard (`engine`, `engine:1`,
…). When such groups remain, the `engine` group is set back to the oldest entry any of them had
not finished and they are removed: what is read again was handled already and is found done
(every step is idempotent by the entry's id), as after a crash.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from apps.core.streams import ENGINE_GROUP, entry_order, text

logger = logging.getLogger("aristobot.engine")

_LEASE_KEYS = ("engine:shards", "engine:members")  # the shard leases' bookkeeping, gone with them


def groups_prepare(client: redis.Redis, streams: tuple[str, ...]) -> None:
    """Create the `engine` group of each stream (from the start of a stream nobody read yet) and
    fold the shard groups of an older layout into it."""
    for stream in streams:
        groups = {name: info for name, info in _groups(client, stream).items() if _is_engine_group(name)}
        if ENGINE_GROUP not in groups:
            client.xgroup_create(stream, ENGINE_GROUP, id="0", mkstream=True)
        legacy = sorted(name for name in groups if name != ENGINE_GROUP)
        if not legacy:
            continue
        start = min((_unfinished_before(client, stream, name, info) for name, info in groups.items()), key=entry_order)
        client.xgroup_setid(stream, ENGINE_GROUP, id=start)
        for name in legacy:
            client.xgroup_destroy(stream, name)
        logger.warning("%s: shard groups %s folded into '%s' from %s", stream, ", ".join(legacy), ENGINE_GROUP, start)
    client.delete(*_LEASE_KEYS)
    for key in client.scan_iter(match="engine:shard:*"):
        client.delete(key)


def engine_pending(client: redis.Redis, stream: str) -> int:
    """Entries of `stream` read by an engine and not yet acknowledged."""
    try:
        return int(client.xpending(stream, ENGINE_GROUP)["pending"])
    except redis.ResponseError:
        return 0  # no such group yet


def _unfinished_before(client: redis.Redis, stream: str, name: str, info: dict[str, Any]) -> str:
    """The id after which a group has nothing unfinished: its oldest pending entry's predecessor,
    else the last entry it was given."""
    pending: Any = client.xpending(stream, name)
    if int(pending["pending"]) and pending.get("min"):
        return _before(text(pending["min"]))
    return text(info["last-delivered-id"])


def _before(entry_id: str) -> str:
    millis, sequence = entry_order(entry_id)
    return f"{millis}-{sequence - 1}" if sequence else f"{max(millis - 1, 0)}-18446744073709551615"


def _groups(client: redis.Redis, stream: str) -> dict[str, dict[str, Any]]:
    try:
        infos: Any = client.xinfo_groups(stream)
    except redis.ResponseError:
        return {}
    return {text(info["name"]): info for info in infos}


def _is_engine_group(name: str) -> bool:
    return name == ENGINE_GROUP or (name.startswith(ENGINE_GROUP + ":") and name[len(ENGINE_GROUP) + 1 :].isdigit())
