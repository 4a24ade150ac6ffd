"""De-duplication of alerts: a repeat of the same alert inside the window is not executed."""

from __future__ import annotations

import hashlib

import redis

from trading.alerts import Alert

KEY_PREFIX = "alert_dedup:"


def alert_dedup_key(*, user_id: int | None, alert: Alert | None, body: str) -> str:
    """The alert's own id when it has one, otherwise a hash of the user and the raw body."""
    material = f"id:{user_id}:{alert.alert_id}" if alert is not None and alert.alert_id else f"body:{user_id}:{body}"
    return hashlib.sha256(material.encode()).hexdigest()


class Deduplicator:
    """Claims a key for a stream entry for `window_seconds`, atomically across engines."""

    def __init__(self, client: redis.Redis, *, window_seconds: int) -> None:
        self.redis = client
        self.window_seconds = window_seconds

    def claim(self, key: str, stream_id: str, *, received_at: float) -> str | None:
        """None when this entry owns the key; otherwise the stream id of the earlier alert.

        The window is measured between the alerts' receipt times, not when the engine gets to
        them, so a backlog processed late does not stretch it.
        """
        if self.window_seconds <= 0:
            return None
        redis_key = KEY_PREFIX + key
        value = f"{stream_id}|{received_at:.3f}"
        if self.redis.set(redis_key, value, nx=True, ex=self.window_seconds):
            return None
        owner = self.redis.get(redis_key)
        owner_text = owner.decode() if isinstance(owner, bytes) else owner
        if owner_text is None:
            return None  # expired meanwhile
        owner_id, _, owner_time = owner_text.partition("|")
        if owner_id == stream_id:
            return None  # our own claim, from a try before a restart
        if received_at - float(owner_time or 0) > self.window_seconds:
            self.redis.set(redis_key, value, ex=self.window_seconds)
            return None
        return owner_id
