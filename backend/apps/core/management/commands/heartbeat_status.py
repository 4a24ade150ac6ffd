"""The heartbeat's latest candle per symbol and how old it is."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.heartbeat.status import heartbeat_last
from apps.core.redis_client import redis_sync


class Command(BaseCommand):
    help = "Show the heartbeat's last candle per symbol, its age, and which symbols are stale."

    def handle(self, *args: Any, **options: Any) -> None:
        last = heartbeat_last(redis_sync())
        if not last:
            self.stdout.write("no heartbeat candle yet: is run_heartbeat running?")
            return
        now = time.time()
        for symbol, candle in sorted(last.items()):
            age = candle.age_seconds(now)
            state = "STALE" if age > settings.HEARTBEAT_STALE_SECONDS else "ok"
            self.stdout.write(
                f"{symbol:<14} {candle.exchange:<8} candle {candle.time:%Y-%m-%d %H:%M} UTC  "
                f"close {candle.close}  published {age:.0f} s ago  {state}"
            )
