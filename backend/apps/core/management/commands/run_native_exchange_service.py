"""Terminal 5: the exchange gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand
from redis.exceptions import RedisError

from apps.brokers.gateway.service import GatewayService
from apps.core.liveness import AsyncLivenessPublisher, Liveness
from apps.core.redis_client import redis_async
from apps.core.throttle import LogThrottle

logger = logging.getLogger("aristobot.gateway")

REDIS_RETRY_MAX_SECONDS = 0.5


class Command(BaseCommand):
    help = "Run the exchange gateway: the only process that decrypts API keys and talks to exchanges."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--consumer", default=None, help="consumer name in the 'gateway' group (stable per host)")

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._main(options["consumer"]))

    async def _main(self, consumer: str | None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        client = redis_async()
        service = GatewayService(client, consumer=consumer)
        liveness = AsyncLivenessPublisher(Liveness("gateway"), client)
        backoff = 0.0
        redis_warnings = LogThrottle(logger)
        started = False
        while not stop.is_set():
            try:
                if not started:
                    await service.start()
                    started = True
                if await service.step(block_ms=500):
                    liveness.liveness.touch()
                backoff = 0.0
            except RedisError as exc:
                # Redis restarting: try again often, so that the gateway answers within a second of its return.
                backoff = min(REDIS_RETRY_MAX_SECONDS, max(0.1, backoff * 2))
                redis_warnings.warning("gateway cannot reach Redis (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
            except Exception:
                backoff = min(10.0, max(0.2, backoff * 2))
                logger.exception("gateway step failed; retrying in %.1f s", backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
            await liveness.beat()
        await liveness.withdraw()
        await service.close()
        await client.aclose()
        logger.info("gateway stopped after %d requests", service.handled)
