"""Terminal 3: the trading engine."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.gateway_client import GatewayClient
from apps.core.redis_client import redis_sync
from apps.core.workers import StopFlag, worker_loop
from apps.webhooks.engine.consumer import TradingEngine

logger = logging.getLogger("aristobot.engine")


class Command(BaseCommand):
    help = "Run the trading engine: consume alerts and exchange events, decide, record, ask the gateway."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--test", action="store_true", help="send every order to the paper exchange")
        parser.add_argument("--verbose", action="store_true", help="log every step")
        parser.add_argument("--consumer", default=None, help="consumer name in the 'engine' group (stable per process)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbose"]:
            logging.getLogger("aristobot").setLevel(logging.DEBUG)
            logging.getLogger("apps").setLevel(logging.DEBUG)
        stop = StopFlag().install()
        client = redis_sync()
        gateway = GatewayClient(client, timeout_seconds=settings.GATEWAY_TIMEOUT_SECONDS, force_paper=options["test"])
        engine = TradingEngine(client, gateway, consumer=options["consumer"])
        if options["test"]:
            logger.warning("--test: every order goes to the paper exchange, no real order will be sent")
        started = False

        def step() -> bool:
            nonlocal started
            if not started:
                engine.start()
                started = True
                logger.info("engine %s started", engine.consumer)
            return engine.step(block_ms=500)

        worker_loop(step, name="engine", stop=stop)
        engine.close()
