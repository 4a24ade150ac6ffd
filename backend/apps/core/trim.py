"""Trimming streams without ever dropping an entry a consumer group has not acknowledged."""

from __future__ import annotations

import time
from typing import Any

import redis


def _id_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


def stream_trim_acknowledged(client: redis.Redis, stream: str, group: str, *, keep_seconds: int) -> int:
    """Drop entries older than `keep_seconds` that the group has read and acknowledged.

    The cut is the earliest of: now − keep_seconds, the group's oldest pending entry, and the
    group's last delivered entry, so an unread or unfinished entry always survives.
    """
    cut_ms = int(time.time() * 1000) - keep_seconds * 1000
    try:
        groups: list[dict[str, Any]] = client.xinfo_groups(stream)
    except redis.ResponseError:
        return 0  # no such stream yet
    info = next(
        (g for g in groups if (g["name"].decode() if isinstance(g["name"], bytes) else g["name"]) == group), None
    )
    if info is None:
        return 0
    cut_ms = min(cut_ms, _id_ms(info["last-delivered-id"]))
    pending: Any = client.xpending(stream, group)
    if pending and pending.get("pending"):
        cut_ms = min(cut_ms, _id_ms(pending["min"]))
    if cut_ms <= 0:
        return 0
    trimmed: Any = client.xtrim(stream, minid=f"{cut_ms}-0", approximate=False)
    return int(trimmed)
