"""Trimming streams without ever dropping an entry a consumer group has not acknowledged."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis

from apps.core.streams import entry_ms, text


def stream_trim_acknowledged(
    client: redis.Redis, stream: str, groups: str | Sequence[str], *, keep_seconds: int
) -> int:
    """Drop entries older than `keep_seconds` that every one of `groups` has read and acknowledged.

    The cut is the earliest of: now − keep_seconds, each group's oldest pending entry, and each
    group's last delivered entry, so an entry some group has not read or finished always survives.
    """
    wanted = [groups] if isinstance(groups, str) else list(groups)
    cut_ms = int(time.time() * 1000) - keep_seconds * 1000
    try:
        infos: list[dict[str, Any]] = client.xinfo_groups(stream)
    except redis.ResponseError:
        return 0  # no such stream yet
    by_name = {text(g["name"]): g for g in infos}
    if not wanted or any(group not in by_name for group in wanted):
        return 0
    for group in wanted:
        cut_ms = min(cut_ms, entry_ms(by_name[group]["last-delivered-id"]))
        pending: Any = client.xpending(stream, group)
        if pending and pending.get("pending"):
            cut_ms = min(cut_ms, entry_ms(pending["min"]))
    if cut_ms <= 0:
        return 0
    trimmed: Any = client.xtrim(stream, minid=f"{cut_ms}-0", approximate=False)
    return int(trimmed)
