"""API benchmark: /api/webhooks/stats/?period=30d and the first page of /api/webhooks/ on 1M alerts.

Builds, in a throwaway PostgreSQL 15 (or the one DATABASE_URL names, which it empties), with
INSERT … SELECT generate_series (seconds, not hours):

- realistic: 1,000,000 alerts over 365 days from 100 users (skewed like real traders: user u
  gets a share ∝ the cube law `floor(100 · random()³)`, so the busiest user holds ~21 % and the
  median user ~0.3 %), 3 brokers each, 40 symbols; half PINGs, 85 % processed, 8 % errors,
  3 % MISS; 10,000 positions (one open per broker and symbol at most, the rest closed);
- worst case: the same, but one user holds 900,000 alerts, all in the last 30 days.

Then times each endpoint through Django's test client, signed in (the whole Django stack, no
network), warm: 3 calls to warm up, then 20 calls; prints p50 / p95 per case (target ≤ 100 ms).

    bench/bench_api.py [--alerts N] [--calls N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"
sys.path.insert(0, str(BACKEND))

from apps.core.ports import free_port, port_wait  # noqa: E402  (standard library only)

USERS = 100
BROKERS_PER_USER = 3
SYMBOLS = 40
POSITIONS = 10_000


def _postgres_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise SystemExit("PostgreSQL server programs not found (make test installs postgresql-15)")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster in /tmp, run as `postgres` when we are root; removed on exit."""
    pg_bin = _postgres_bin()
    workdir = Path(tempfile.mkdtemp(prefix="aristobot-bench-pg-", dir="/tmp"))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = workdir / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_pg, *args], cwd=workdir, check=True, capture_output=True)

    run(str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-locale", "--no-sync")
    options = f"-h 127.0.0.1 -p {port} -k {workdir} -c fsync=off -c synchronous_commit=off -c shared_buffers=512MB"
    run(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log"), "-w", "-o", options, "start")
    try:
        port_wait(port)
        run(str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "bench")
        yield f"postgres://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*as_pg, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


BUILD_USERS_AND_BROKERS = f"""
INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT u, '!', false, 'trader' || u, '', '', '', false, true, now() FROM generate_series(1, {USERS}) AS u;
SELECT setval(pg_get_serial_sequence('auth_user', 'id'), {USERS});
INSERT INTO brokers_broker (id, user_id, name, exchange, api_key_encrypted, api_secret_encrypted,
                            api_password_encrypted, api_base_url, is_testnet, is_active, is_default,
                            type_de_trading, created_at, updated_at)
SELECT b, 1 + (b - 1) / {BROKERS_PER_USER}, 'Broker ' || b, 'paper', '', '', '', '', false, true,
       (b - 1) % {BROKERS_PER_USER} = 0, 'Webhooks', now(), now()
FROM generate_series(1, {USERS * BROKERS_PER_USER}) AS b;
SELECT setval(pg_get_serial_sequence('brokers_broker', 'id'), {USERS * BROKERS_PER_USER});
"""

# One row per n; `u` (the user) comes from the distribution, `age` (seconds before now) from the span.
ALERTS = """
INSERT INTO webhooks_webhook (user_id, broker_id, symbol, exchange, interval, action, prix, prix_sl, prix_tp,
    pour_cent, status, order_id, error_message, raw_payload, bar_time, received_at, processed_at, stream_id,
    trace_id, source_ip, dedup_key)
SELECT u, (u - 1) * {brokers} + 1 + (n % {brokers}), sym, 'BINANCE', '5', act,
       40000 + (n % 1000), 38000, 46000, 50, st,
       CASE WHEN st = 'processed' AND act <> 'PING' THEN (n % 100000)::text ELSE '' END,
       CASE WHEN st = 'error' THEN 'balance too small for the minimum order' ELSE '' END,
       jsonb_build_object('Symbol', sym, 'Action', act, 'Exchange', 'BINANCE', 'Interval', '5', 'Prix',
                          (40000 + n % 1000)::text, 'PourCent', '50', 'UserExchangeID', n % 300),
       now() - make_interval(secs => age), now() - make_interval(secs => age),
       now() - make_interval(secs => age) + interval '40 milliseconds', NULL, md5(n::text), '52.89.214.238', ''
FROM (
    SELECT n, u, age,
           CASE WHEN r < 0.03 THEN 'miss' WHEN r < 0.11 THEN 'error' WHEN r < 0.12 THEN 'processing'
                ELSE 'processed' END AS st,
           CASE WHEN r < 0.03 THEN 'MISS' WHEN a < 0.5 THEN 'PING' WHEN a < 0.65 THEN 'BuyMarket'
                WHEN a < 0.80 THEN 'SellMarket' WHEN a < 0.90 THEN 'MAJ' WHEN a < 0.95 THEN 'BuyLimit'
                ELSE 'SellLimit' END AS act,
           'SYM' || (n % {symbols}) || 'USDT' AS sym
    FROM (SELECT n, {user_expr} AS u, {age_expr} AS age, random() AS r, random() AS a
          FROM generate_series(1, {count}) AS n) AS base
) AS rows;
"""

POSITIONS_SQL = f"""
INSERT INTO webhooks_webhookstate (user_id, broker_id, symbol, side, quantity, entry_price, entry_fees,
    current_price, stop_loss_price, stop_loss_order_id, take_profit_price, take_profit_order_id, protection_mode,
    status, unrealized_pnl, realized_pnl, opened_at, updated_at, closed_at)
SELECT 1 + (b - 1) / {BROKERS_PER_USER}, b, 'SYM' || s || '/USDT', 'long', 0.1, 40000, 4, 40100, 38000, 'sl',
       46000, 'tp', 'exchange', CASE WHEN k = 0 THEN 'open' ELSE 'closed' END, 10, CASE WHEN k = 0 THEN 0 ELSE 25 END,
       now() - make_interval(days => k), now(), CASE WHEN k = 0 THEN NULL ELSE now() - make_interval(days => k) END
FROM generate_series(1, {USERS * BROKERS_PER_USER}) AS b, generate_series(0, 5) AS s, generate_series(0, 5) AS k
LIMIT {POSITIONS};
"""


def build(url: str, *, alerts: int, worst_case: bool) -> float:
    """Empty the tables and fill them; returns the seconds it took."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE webhooks_order, webhooks_webhookstate, webhooks_webhook, brokers_broker, auth_user CASCADE"
        )
        conn.execute(BUILD_USERS_AND_BROKERS)
        # Plain indexes are dropped during the load and built after it: much faster than row by row.
        indexes = [
            tuple(v.decode() if isinstance(v, bytes) else v for v in row)
            for row in conn.execute(
                "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = 'webhooks_webhook' AND indexname NOT IN "
                "(SELECT conname::text FROM pg_constraint WHERE conrelid = 'webhooks_webhook'::regclass)"
            ).fetchall()
        ]
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        common = {"brokers": BROKERS_PER_USER, "symbols": SYMBOLS}
        if worst_case:
            heavy = alerts * 9 // 10
            conn.execute(ALERTS.format(**common, count=heavy, user_expr="1", age_expr="random() * 30 * 86400"))
            conn.execute(
                ALERTS.format(
                    **common,
                    count=alerts - heavy,
                    user_expr=f"2 + floor(random() * {USERS - 1})::int",
                    age_expr="random() * 365 * 86400",
                )
            )
        else:
            conn.execute(
                ALERTS.format(
                    **common,
                    count=alerts,
                    user_expr=f"1 + floor({USERS} * power(random(), 3))::int",
                    age_expr="random() * 365 * 86400",
                )
            )
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute(POSITIONS_SQL)
        conn.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def timed(client: object, path: str, calls: int) -> tuple[float, float, set[int]]:
    """(p50, p95) in ms over `calls` warm calls, and every status they answered."""
    for _ in range(3):
        client.get(path)  # type: ignore[attr-defined]
    samples = []
    statuses: set[int] = set()
    for _ in range(calls):
        started = time.perf_counter()
        answer = client.get(path)  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - started) * 1000)
        statuses.add(answer.status_code)
    samples.sort()
    return statistics.median(samples), samples[max(0, round(0.95 * len(samples)) - 1)], statuses


def measure(url: str, *, label: str, calls: int) -> None:
    import psycopg
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT user_id, count(*), count(*) FILTER (WHERE received_at >= now() - interval '30 days') "
            "FROM webhooks_webhook GROUP BY user_id ORDER BY count(*) DESC"
        ).fetchall()
    busiest, median = rows[0], rows[len(rows) // 2]
    for who, (user_id, total, last30) in (("busiest user", busiest), ("median user", median)):
        if label == "worst case" and who == "median user":
            continue
        client = APIClient()
        client.force_login(get_user_model().objects.get(pk=user_id))
        print(f"  {label}, {who} (#{user_id}: {total:,} alerts, {last30:,} in the last 30 days)")
        for path in ("/api/webhooks/stats/?period=30d", "/api/webhooks/"):
            p50, p95, statuses = timed(client, path, calls)
            verdict = "FAILED" if statuses != {200} else "ok" if p95 <= 100 else "OVER TARGET"
            shown = ", ".join(str(status) for status in sorted(statuses))
            print(f"    GET {path:36} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (HTTP {shown}, {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()

    given = os.environ.get("DATABASE_URL", "")
    with nullcontext(given) if given.startswith("postgres") else throwaway_postgres() as url:
        os.environ.update(
            {
                "DATABASE_URL": url,
                "DJANGO_SETTINGS_MODULE": "aristobot.settings_test",
                "ARISTOBOT_VAR_DIR": tempfile.mkdtemp(prefix="aristobot-bench-api-"),
                "LOG_LEVEL": "ERROR",
            }
        )
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        settings.ALLOWED_HOSTS = ["testserver"]
        call_command("migrate", verbosity=0)
        print(f"database: PostgreSQL at {url.split('@')[-1]}; {args.alerts:,} alerts, {POSITIONS:,} positions")
        for label, worst in (("realistic", False), ("worst case", True)):
            seconds = build(url, alerts=args.alerts, worst_case=worst)
            print(f"{label}: built in {seconds:.1f} s")
            measure(url, label=label, calls=args.calls)


if __name__ == "__main__":
    main()
