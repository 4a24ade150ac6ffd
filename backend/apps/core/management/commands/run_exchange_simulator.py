"""A local Binance spot exchange simulator for tests and demos (see docs/exchange-simulator.md)."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.brokers.simulator.config import DEFAULT_BALANCES, simulator_config
from apps.brokers.simulator.server import DEFAULT_HOST, DEFAULT_PORT, SimulatorServer, serve
from apps.brokers.simulator.state import Simulator
from trading.numbers import decimal_from
from trading.paper.markets import TAKER_FEE


class Command(BaseCommand):
    help = "Run a local Binance spot REST simulator (as ccxt's binance uses it) on the paper matching engine."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
        parser.add_argument("--api-key", default=None, help="the account's API key (made up when not given)")
        parser.add_argument("--api-secret", default=None, help="the account's API secret (made up when not given)")
        parser.add_argument(
            "--balance", action="append", default=None, help="starting balance ASSET=AMOUNT, repeatable (USDT=10000)"
        )
        parser.add_argument("--price", action="append", default=[], help="starting price SYMBOL=PRICE (BTCUSDT=40000)")
        parser.add_argument("--fee-rate", default=str(TAKER_FEE), help=f"fee per fill (default {TAKER_FEE})")

    def handle(self, *args: Any, **options: Any) -> None:
        fee_rate = decimal_from(options["fee_rate"])
        if fee_rate is None or not Decimal(0) <= fee_rate < 1:
            raise CommandError(f"--fee-rate must be a number from 0 to 1, not {options['fee_rate']!r}")
        try:
            config = simulator_config(
                api_key=options["api_key"],
                api_secret=options["api_secret"],
                balances=options["balance"] or DEFAULT_BALANCES,
                prices=options["price"],
                fee_rate=fee_rate,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        account = config.accounts[0]
        server = SimulatorServer(Simulator(config), host=options["host"], port=options["port"])

        def ready(base_url: str) -> None:
            self.stdout.write(f"Binance spot simulator on {base_url} (control API: {base_url}/_sim/)")
            self.stdout.write(f"  api key:    {account.api_key}")
            self.stdout.write(f"  api secret: {account.api_secret}")
            self.stdout.write("  point a broker at it with api_base_url = " + base_url)

        asyncio.run(serve(server, on_ready=ready))
