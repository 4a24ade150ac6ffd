"""Engine CPU per alert: the trading engine runs in this process, the gateway and Redis beside it.

The alerts are those of bench_pipeline (per symbol, BuyMarket with stop-loss and take-profit, then
SellMarket 100%, over 50 symbols), written straight to `webhook_raw` as the receiver would; the
engine's own steps run here, so this process's CPU time is the engine's and nothing else's.
Prints engine CPU ms per alert (target ≤ 3) and SQL statements per alert.

    bench/bench_engine.py [--alerts N] [--threads T] [--profile FILE.pstat]

SQLite in a temporary directory unless DATABASE_URL is set (a PostgreSQL database is emptied
and migrated: give it one of its own). `--profile` writes a yappi CPU profile of every thread
(pstats format: `python -m pstats FILE.pstat`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BenchStack

SYMBOLS = 50
WARM_UP = 100  # alerts run before measuring: markets loaded, connections and caches made


def _bodies(first: int, count: int, symbols: list[str], broker: int, prices: dict[str, float]) -> list[str]:
    """The alerts of bench_pipeline, as JSON bodies; `first` keeps their ids apart."""
    bodies = []
    for n in range(first, first + count):
        symbol = symbols[n % len(symbols)]
        price = prices[symbol]
        buy = (n // len(symbols)) % 2 == 0
        body: dict[str, str | int] = {
            "Symbol": symbol,
            "UserExchangeID": broker,
            "Prix": f"{price:.8f}",
            "ID": f"engine-bench-{n}",
            "Action": "BuyMarket" if buy else "SellMarket",
            "PourCent": "1" if buy else "100",
        }
        if buy:
            body["PrixSL"] = f"{price * 0.9:.8f}"
            body["PrixTP"] = f"{price * 1.1:.8f}"
        bodies.append(json.dumps(body))
    return bodies


class StatementCounter:
    """Counts the SQL statements of every database connection this process opens."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1  # a lost increment between threads only blurs a figure by one
        return execute(sql, params, many, context)

    def install(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(self._connected, weak=False)

    def _connected(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=1000, help="alerts measured (default 1000)")
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: ENGINE_THREADS)")
    parser.add_argument("--profile", default="", help="write a yappi CPU profile (pstats) to this file")
    options = parser.parse_args()
    stack = BenchStack(extra_env={"PAPER_INITIAL_BALANCE_USDT": "10000000", "ALERT_DEDUP_WINDOW_SECONDS": "60"})
    try:
        _, broker_id = stack.start("gateway")
        os.environ.update(stack.env)
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backend"))
        import django

        django.setup()
        _run(stack, broker_id, options)
    finally:
        stack.stop()


def _run(stack: BenchStack, broker_id: int, options: argparse.Namespace) -> None:
    import redis
    from django.conf import settings
    from django.db import connections

    from apps.brokers.models import Broker
    from apps.core.gateway_client import GatewayClient
    from apps.core.streams import WEBHOOK_RAW, RawAlert
    from apps.webhooks.engine.consumer import TradingEngine
    from apps.webhooks.models import Webhook
    from trading.paper.markets import PAPER_MARKETS

    counter = StatementCounter()
    counter.install()
    connections.close_all()  # the connections opened from now on are counted
    client = redis.Redis.from_url(settings.REDIS_URL)
    gateway = GatewayClient(client, timeout_seconds=settings.GATEWAY_TIMEOUT_SECONDS)
    engine = TradingEngine(client, gateway, threads=options.threads)
    user_id = Broker.objects.get(pk=broker_id).user_id
    steps = {market.id: float(market.price_step) for market in PAPER_MARKETS.values()}
    symbols = sorted(steps)[:SYMBOLS]
    prices = {symbol: max(1.0, 1000 * steps[symbol] * 100) for symbol in symbols}

    def burst(bodies: list[str]) -> float:
        """Append the alerts, run the engine until all are finished; the CPU seconds it took."""
        pipe = client.pipeline(transaction=False)
        for body in bodies:
            raw = RawAlert(
                body=body, received_at=datetime.now(UTC).isoformat(), trace_id=uuid.uuid4().hex, user_id=user_id
            )
            pipe.xadd(WEBHOOK_RAW, raw.to_fields())  # type: ignore[arg-type]
        pipe.execute()
        total = Webhook.objects.count() + len(bodies)
        started = time.process_time()
        while engine.step(block_ms=50) or Webhook.objects.filter(status__in=("processed", "error")).count() < total:
            pass
        return time.process_time() - started

    engine.start()
    burst(_bodies(0, WARM_UP, symbols, broker_id, prices))
    counter.count = 0
    profiler: Any = None
    if options.profile:
        import yappi

        profiler = yappi
        yappi.set_clock_type("cpu")
        yappi.start()
    wall = time.perf_counter()
    cpu = burst(_bodies(WARM_UP, options.alerts, symbols, broker_id, prices))
    wall = time.perf_counter() - wall
    if profiler is not None:
        profiler.stop()
        profiler.get_func_stats().save(options.profile, type="pstat")
    statements = counter.count
    engine.close()
    errors = Webhook.objects.filter(status="error").count()
    database = stack.env["DATABASE_URL"].split(":")[0]
    print(
        f"database: {database}; {options.alerts} alerts over {len(symbols)} symbols, "
        f"{options.threads or settings.ENGINE_THREADS} engine thread(s), {errors} alerts in error"
    )
    print(
        f"engine CPU {1000 * cpu / options.alerts:.2f} ms per alert (target ≤ 3), "
        f"{statements / options.alerts:.1f} SQL statements per alert, {wall:.2f} s wall"
    )


if __name__ == "__main__":
    main()
