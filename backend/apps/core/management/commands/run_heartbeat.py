"""Terminal 2: the heartbeat, one closed 1-minute candle per symbol on stream `heartbeat`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.heartbeat.publisher import HeartbeatPublisher, SymbolsByExchange, SymbolsInUse
from apps.core.heartbeat.sources import CandleSource, CcxtSource, MultiCcxtSource, ReplaySource, SimSource
from apps.core.redis_client import redis_sync
from apps.core.workers import StopFlag, worker_loop
from trading.live.ohlcv import OhlcvClient

logger = logging.getLogger("aristobot.heartbeat")

CCXT_POLL_SECONDS = 10.0


class Command(BaseCommand):
    help = "Publish closed 1-minute candles (market clock and prices) from a price walk, a CSV or an exchange."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", choices=["sim", "replay", "ccxt"], default=settings.HEARTBEAT_SOURCE)
        parser.add_argument(
            "--symbols",
            default=",".join(settings.HEARTBEAT_SYMBOLS),
            help="comma-separated unified symbols published besides those in use (BTC/USDT,ETH/USDT)",
        )
        parser.add_argument(
            "--only-symbols", action="store_true", help="publish only --symbols, not those read from the database"
        )
        parser.add_argument(
            "--seconds-per-candle",
            type=float,
            default=settings.HEARTBEAT_SECONDS_PER_CANDLE,
            help="sim and replay: wall-clock seconds per 1-minute candle (0: as fast as possible)",
        )
        parser.add_argument("--csv", default="", help="replay: the CSV file (time,symbol,open,high,low,close,volume)")
        parser.add_argument("--seed", type=int, default=1, help="sim: seed of the price walk")
        parser.add_argument("--exchange", default=settings.HEARTBEAT_EXCHANGE, help="ccxt: the exchange id")
        parser.add_argument("--verbose", action="store_true", help="log every candle")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbose"]:
            logging.getLogger("aristobot").setLevel(logging.DEBUG)
        symbols = SymbolsInUse(options["symbols"].split(","), only_extra=options["only_symbols"])
        source = self._source(options, symbols)
        pace = CCXT_POLL_SECONDS if options["source"] == "ccxt" else max(0.0, options["seconds_per_candle"])
        stop = StopFlag().install()
        publisher = HeartbeatPublisher(redis_sync(), source, seconds_per_candle=pace)
        logger.info("heartbeat started: source %s, one poll every %.1f s", options["source"], pace)

        def step() -> bool:
            if source.exhausted:
                logger.info("replay finished after %d candles", publisher.published)
                stop.set()
                return False
            pause = publisher.due_in()
            if pause > 0:
                stop.wait(min(pause, 1.0))
                return False
            return publisher.step()

        worker_loop(step, name="heartbeat", stop=stop)

    def _source(self, options: dict[str, Any], symbols: SymbolsInUse) -> CandleSource:
        if options["source"] == "replay":
            if not options["csv"]:
                raise CommandError("--source replay needs --csv PATH")
            try:
                return ReplaySource(options["csv"])
            except (OSError, KeyError, ValueError, ArithmeticError) as exc:
                raise CommandError(f"cannot read {options['csv']}: {exc}") from exc
        if options["source"] == "ccxt":
            if options["only_symbols"]:
                return CcxtSource(OhlcvClient(options["exchange"]), symbols)
            # Every exchange in use, each with its own client; paper brokers take the --exchange prices.
            extra = options["symbols"].split(",")
            return MultiCcxtSource(SymbolsByExchange(extra, paper_prices_from=options["exchange"]))
        return SimSource(symbols, seed=options["seed"], start=datetime.now(UTC))
