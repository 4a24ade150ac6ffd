"""Candle benchmark: one heartbeat candle with 1,000 open positions and 1,000 watched alert
streams on its symbol, behind a long history (target ≤ 200 ms).

Sets up, in a throwaway database (SQLite, or a new database on the PostgreSQL server of
DATABASE_URL): 1,000 users each with a paper broker, an open engine-guarded position on
BTC/USDT and a 1-minute alert stream on BTCUSDT (one bar in ten withheld, so every candle
records MISSes too); and a history of older alerts and closed positions that a candle must
not read. Then times `candle_handle` as the engine runs it, in the engine's own process (the
gateway's paper exchange is answered in-process: its speed is not measured here).

    bench/bench_candle.py [--history 100000] [--candles 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BACKEND = Path(__file__).resolve().parents[1] / "backend"
POSITIONS = STREAMS = 1000
MINUTE = timedelta(minutes=1)


def _database(tmp: Path) -> tuple[str, str | None]:
    """The URL to run on and, for PostgreSQL, the admin URL to drop the database with."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp / 'bench.sqlite3'}", None
    import psycopg

    name = f"aristobot_bench_candle_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name, url


def _drop(url: str, admin: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')


def _setup(history: int, now: datetime) -> tuple[list[Any], list[Any]]:
    """Users, brokers, open positions, history; returns the users and their brokers."""
    from django.contrib.auth import get_user_model

    from apps.brokers.models import Broker
    from apps.webhooks.models import ProtectionMode, Webhook, WebhookState

    User = get_user_model()
    User.objects.bulk_create([User(username=f"bench{n}") for n in range(POSITIONS)], batch_size=500)
    users = list(User.objects.filter(username__startswith="bench").order_by("pk"))
    Broker.objects.bulk_create(
        [Broker(user=user, name="Paper", exchange="paper", type_de_trading="Webhooks") for user in users],
        batch_size=500,
    )
    brokers = list(Broker.objects.filter(user__in=users).order_by("user_id"))
    WebhookState.objects.bulk_create(
        [
            WebhookState(
                user=broker.user,
                broker=broker,
                symbol="BTC/USDT",
                quantity=Decimal("0.01"),
                entry_price=Decimal(40000),
                entry_fees=Decimal("0.4"),
                stop_loss_price=Decimal(30000),
                take_profit_price=Decimal(50000),
                protection_mode=ProtectionMode.ENGINE,
                paper=True,
            )
            for broker in brokers
        ],
        batch_size=500,
    )
    # History a candle must not read: closed positions and older alerts (bulk: like rows
    # recorded before the streams existed, on every symbol including the candle's).
    WebhookState.objects.bulk_create(
        [
            WebhookState(
                user=brokers[n % len(brokers)].user,
                broker=brokers[n % len(brokers)],
                symbol="BTC/USDT" if n % 2 else "ETH/USDT",
                status="closed",
                closed_at=now - timedelta(days=30),
                paper=True,
            )
            for n in range(history // 5)
        ],
        batch_size=2000,
    )
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BTC/USDT"]
    for start in range(0, history, 5000):
        Webhook.objects.bulk_create(
            [
                Webhook(
                    user_id=brokers[n % len(brokers)].user_id,
                    broker=brokers[n % len(brokers)],
                    symbol=symbols[n % len(symbols)],
                    interval="1",
                    action="PING",
                    status="processed",
                    received_at=now - timedelta(days=9) - n * MINUTE,
                )
                for n in range(start, min(history, start + 5000))
            ]
        )
    return users, brokers


def _alerts(brokers: list[Any], bar: datetime, *, withheld: bool) -> None:
    """Each stream's alert for `bar` (one in ten withheld), recorded as the engine records it:
    a Webhook row created one at a time (its stream follows)."""
    from apps.webhooks.models import Webhook

    for n, broker in enumerate(brokers):
        if withheld and n % 10 == 0:
            continue
        Webhook.objects.create(
            user_id=broker.user_id,
            broker=broker,
            symbol="BTCUSDT",
            interval="1",
            action="PING",
            status="processed",
            bar_time=bar,
            received_at=bar + MINUTE + timedelta(seconds=2),
        )


def _gateway() -> Any:
    from apps.core.gateway_client import GatewayClient

    class PaperAnswers(GatewayClient):
        """Answers price_update at once: the paper exchange is another process."""

        def call(self, op: Any, **kwargs: Any) -> Any:
            return {"changed": 0}

    return PaperAnswers(None, timeout_seconds=5)  # type: ignore[arg-type]


def _parts_timed() -> dict[str, float]:
    """Time spent in each step of a candle, by wrapping the steps `candle_handle` calls."""
    from apps.webhooks.engine import market

    spent: dict[str, float] = {}

    def timed(name: str, step: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return step(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    for name in ("positions_mark", "positions_guard", "misses_record"):
        setattr(market, name, timed(name, getattr(market, name)))
    return spent


def run(history: int, candles: int) -> None:
    from django.db import connection

    from apps.core.streams import Candle
    from apps.webhooks.engine.market import candle_handle
    from apps.webhooks.models import AlertStream, Webhook, WebhookState

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - (candles + 2) * MINUTE
    made = time.perf_counter()
    _users, brokers = _setup(history, now)
    _alerts(brokers, start, withheld=False)  # each stream's first alert
    print(
        f"{connection.vendor}: {WebhookState.objects.filter(status='open').count()} open positions, "
        f"{AlertStream.objects.count()} watched streams, {Webhook.objects.count()} alerts, "
        f"{WebhookState.objects.count()} positions in all (set up in {time.perf_counter() - made:.0f} s)"
    )
    gateway = _gateway()
    parts = _parts_timed()
    times = []
    for k in range(candles):
        bar = start + (k + 1) * MINUTE  # this bar closed; its alerts arrived; the candle after it judges it
        _alerts(brokers, bar, withheld=True)
        candle_time = bar + MINUTE
        price = Decimal(40000 + 10 * k)
        candle = Candle("sim", "BTC/USDT", candle_time.isoformat(), price, price + 5, price - 5, price, Decimal(1))
        misses = Webhook.objects.filter(action="MISS").count()
        began = time.perf_counter()
        candle_handle(candle, gateway, owned=None, feed_paper=True)
        times.append((time.perf_counter() - began) * 1000)
        recorded = Webhook.objects.filter(action="MISS").count() - misses
        shares = ", ".join(f"{name} {spent * 1000:.0f}" for name, spent in parts.items())
        parts.clear()
        print(f"  candle {candle_time:%H:%M}: {times[-1]:.0f} ms ({shares}; {recorded} MISSes recorded)")
    print(f"{connection.vendor}: one candle in {statistics.median(times):.0f} ms median, {max(times):.0f} ms max")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--history", type=int, default=100_000, help="older alerts (and a fifth as many closed positions)"
    )
    parser.add_argument("--candles", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-candle-") as tmp:
        url, admin = _database(Path(tmp))
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="aristobot.settings_test",
            ARISTOBOT_VAR_DIR=tmp,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),  # live push: not measured
        )
        sys.path.insert(0, str(BACKEND))
        import logging

        import django
        from django.core.management import call_command

        django.setup()
        logging.getLogger("aristobot").setLevel(logging.ERROR)  # a MISS per withheld bar is a warning
        logging.getLogger("apps").setLevel(logging.ERROR)
        call_command("migrate", verbosity=0)
        try:
            run(args.history, args.candles)
        finally:
            if admin is not None:
                _drop(url, admin)


if __name__ == "__main__":
    main()
