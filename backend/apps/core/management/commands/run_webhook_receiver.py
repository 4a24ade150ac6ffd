"""`manage.py run_webhook_receiver`: the aiohttp webhook receiver (terminal 6), port 8888."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.webhooks.receiver.config import ReceiverConfig
from apps.webhooks.receiver.limits import AddressPolicy
from apps.webhooks.receiver.server import StartError, run


class Command(BaseCommand):
    help = "Receive TradingView alerts over HTTP and make them durable in the Redis stream webhook_raw."

    def add_arguments(self, parser: CommandParser) -> None:
        everywhere = "0.0.0.0"  # noqa: S104 - TradingView reaches it through the TLS proxy
        parser.add_argument("--host", default=everywhere, help=f"address to listen on (default {everywhere})")
        parser.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888)")

    def handle(self, *args: Any, **options: Any) -> None:
        config = ReceiverConfig.from_settings()
        try:
            AddressPolicy(config.ip_allowlist, config.trusted_proxies)
        except ValueError as exc:
            raise CommandError(f"Configuration error: {exc}") from None
        try:
            run(host=options["host"], port=options["port"], redis_url=settings.REDIS_URL, config=config)
        except StartError as exc:
            raise CommandError(str(exc)) from None
