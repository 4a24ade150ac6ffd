"""De-duplication of alerts: a repeat of the same alert inside the window is not executed."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import redis

from apps.webhooks.models import Webhook
from trading.alerts import Alert

KEY_PREFIX = "alert_dedup:"
DUPLICATE_PREFIX = "duplicate of alert"  # how a duplicate's error message starts


def alert_dedup_key(*, user_id: int | None, alert: Alert | None, body: str) -> str:
    """The alert's own id when it has one, otherwise a hash of the user and the raw body."""
    material = f"id:{user_id}:{alert.alert_id}" if alert is not None and alert.alert_id else f"body:{user_id}:{body}"
    return hashlib.sha256(material.encode()).hexdigest()


class Deduplicator:
    """Claims a key for a stream entry, atomically across engines; a repeat received within
    `window_seconds` of the first alert's receipt is a duplicate, however late either is run."""

    def __init__(self, client: redis.Redis, *, window_seconds: int) -> None:
        self.redis = client
        self.window_seconds = window_seconds

    def claim(self, key: str, stream_id: str, *, received_at: float, now: float | None = None) -> str | None:
        """None when this entry owns the key; otherwise the stream id of the earlier alert.

        The window is measured between the alerts' receipt times (the receiver's), not when the
        engine gets to them. A key lives two windows, so a repeat run up to a window late still
        finds it; one run later than that (a backlog after an outage) looks in the records.
        """
        if self.window_seconds <= 0:
            return None
        redis_key = KEY_PREFIX + key
        value = f"{stream_id}|{received_at:.3f}"
        keep = 2 * self.window_seconds
        if self.redis.set(redis_key, value, nx=True, ex=keep):
            late = (time.time() if now is None else now) - received_at > self.window_seconds
            return (
                _earlier_recorded(key, stream_id, received_at=received_at, window=self.window_seconds) if late else None
            )
        owner = self.redis.get(redis_key)
        owner_text = owner.decode() if isinstance(owner, bytes) else owner
        if owner_text is None:
            return None  # expired meanwhile
        owner_id, _, owner_time = owner_text.partition("|")
        if owner_id == stream_id:
            return None  # our own claim, from a try before a restart
        if received_at - float(owner_time or 0) > self.window_seconds:
            self.redis.set(redis_key, value, ex=keep)
            return None
        return owner_id


def _earlier_recorded(key: str, stream_id: str, *, received_at: float, window: int) -> str | None:
    """The stream id of an alert recorded with this key received within the window before this
    one (not itself a duplicate), when its Redis claim has expired already."""
    moment = datetime.fromtimestamp(received_at, tz=UTC)
    earlier = (
        Webhook.objects.filter(
            dedup_key=key, received_at__gte=moment - timedelta(seconds=window), received_at__lte=moment
        )
        .exclude(stream_id=stream_id)
        .exclude(error_message__startswith=DUPLICATE_PREFIX)
        .order_by("received_at", "id")
        .values_list("stream_id", flat=True)
        .first()
    )
    return earlier or None
