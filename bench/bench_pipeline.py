"""Pipeline benchmark: alert answered → order filled on paper and recorded.

(a) latency at 20 alerts/s (open loop): p50 / p99 from the receiver's received_at to the
    moment the entry order row was recorded as filled (targets: p50 ≤ 20 ms, p99 ≤ 100 ms);
(b) a burst of 1,000 alerts over 50 symbols: time from the first alert received to the
    last one processed (target ≤ 10 s).
Alerts alternate BuyMarket (with stop-loss and take-profit) and SellMarket 100% per symbol, so
every alert places real paper orders. Runs the real processes; prints its figures.

    bench/bench_pipeline.py [--engines N]    N engine processes share the stream (default 1)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BenchStack


def _alert(n: int, symbols: list[str], broker: int, prices: dict[str, float]) -> dict[str, str | int]:
    symbol = symbols[n % len(symbols)]
    price = prices[symbol]
    buy = (n // len(symbols)) % 2 == 0
    body: dict[str, str | int] = {
        "Symbol": symbol,
        "UserExchangeID": broker,
        "Prix": f"{price:.8f}",
        "ID": f"bench-{n}",
        "Action": "BuyMarket" if buy else "SellMarket",
        "PourCent": "1" if buy else "100",
    }
    if buy:
        body["PrixSL"] = f"{price * 0.9:.8f}"
        body["PrixTP"] = f"{price * 1.1:.8f}"
    return body


def _usable(stack: BenchStack, count: int) -> tuple[list[str], dict[str, float]]:
    """`count` symbols of the paper exchange, each with a price on its tick."""
    code = (
        "import json; from trading.paper.markets import PAPER_MARKETS as M; "
        "print(json.dumps({m.id: float(m.price_step) for m in M.values()}))"
    )
    steps = json.loads(stack.manage("shell", "-c", code).strip().splitlines()[-1])
    usable = sorted(steps)[:count]
    prices = {s: max(1.0, 1000 * steps[s] * 100) for s in usable}
    return usable, prices


async def _send(session: aiohttp.ClientSession, url: str, body: dict[str, str | int]) -> None:
    async with session.post(url, data=json.dumps(body), headers={"Content-Type": "text/plain"}) as answer:
        if answer.status != 200:
            raise RuntimeError(f"receiver answered {answer.status}: {await answer.text()}")


async def _open_loop(url: str, bodies: list[dict[str, str | int]], rate: float) -> None:
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        tasks = []
        for n, body in enumerate(bodies):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, url, body)))
        await asyncio.gather(*tasks)


async def _burst(url: str, bodies: list[dict[str, str | int]]) -> None:
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(_send(session, url, body) for body in bodies))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_processed(stack: BenchStack, total: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = stack.sql("SELECT count(*) FROM webhooks_webhook WHERE status IN ('processed','error')")[0][0]
        if done >= total:
            return
        time.sleep(0.2)
    raise SystemExit(f"only {done} of {total} alerts processed after {timeout} s")


def _ts(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", type=int, default=1, help="engine processes sharing the stream")
    options = parser.parse_args()
    stack = BenchStack(extra_env={"PAPER_INITIAL_BALANCE_USDT": "10000000", "ALERT_DEDUP_WINDOW_SECONDS": "60"})
    try:
        engines = tuple(["engine"] * options.engines)
        token, broker = stack.start("gateway", *engines, "receiver")
        url = f"http://127.0.0.1:{stack.receiver_port}/webhook/{token}"
        symbols, prices = _usable(stack, 50)
        print(
            f"database: {stack.env['DATABASE_URL'].split(':')[0]}; {len(symbols)} symbols; "
            f"{options.engines} engine process(es); machine has {os.cpu_count()} cores"
        )

        latency_alerts = [_alert(n, symbols[:10], broker, prices) for n in range(300)]
        asyncio.run(_open_loop(url, latency_alerts, rate=20))
        _wait_processed(stack, len(latency_alerts))
        rows = stack.sql(
            "SELECT w.received_at, o.updated_at FROM webhooks_webhook w "
            "JOIN webhooks_order o ON o.webhook_id = w.id AND o.kind IN ('entry','exit') WHERE o.status = 'filled'"
        )
        latencies = [(_ts(done) - _ts(received)) * 1000 for received, done in rows]
        errors = stack.sql("SELECT count(*) FROM webhooks_webhook WHERE status = 'error'")[0][0]
        for (message,) in stack.sql("SELECT DISTINCT error_message FROM webhooks_webhook WHERE status='error' LIMIT 5"):
            print(f"    error: {message}")
        print(
            f"(a) 20 alerts/s, {len(latencies)} filled orders ({errors} alerts in error): answered → filled and recorded "
            f"p50 {statistics.median(latencies):.1f} ms, p90 {_pct(latencies, 0.9):.1f} ms, "
            f"p99 {_pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms (targets p50 ≤ 20, p99 ≤ 100)"
        )

        before = stack.sql("SELECT count(*) FROM webhooks_webhook")[0][0]
        burst = [_alert(n, symbols, broker, prices) for n in range(1000, 2000)]
        for body in burst:
            body["ID"] = f"burst-{body['ID']}"
        names = ("redis", "gateway", *[f"engine{n + 1}" if len(engines) > 1 else "engine" for n in range(len(engines))])
        names = (*names, "receiver")
        cpu_before = {name: _cpu_seconds(p.pid) for name, p in zip(names, stack.processes, strict=True)}
        sent = time.perf_counter()
        asyncio.run(_burst(url, burst))
        answered = time.perf_counter() - sent
        _wait_processed(stack, before + len(burst), timeout=300)
        cpu = {name: _cpu_seconds(p.pid) - cpu_before[name] for name, p in zip(names, stack.processes, strict=True)}
        first, last = stack.sql(
            f"SELECT min(received_at), max(processed_at) FROM webhooks_webhook WHERE id > {before}"
        )[0]
        errors = stack.sql(f"SELECT count(*) FROM webhooks_webhook WHERE id > {before} AND status='error'")[0][0]
        print(
            f"(b) burst of {len(burst)} alerts over {len(symbols)} symbols: all answered in {answered:.2f} s, "
            f"fully processed {(_ts(last) - _ts(first)):.2f} s after the first arrived ({errors} in error; target ≤ 10 s)"
        )
        print("    CPU seconds used during the burst: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
        engine_cpu = sum(v for k, v in cpu.items() if k.startswith("engine"))
        print(
            f"    engine CPU per alert: {1000 * engine_cpu / len(burst):.2f} ms (all engines, target ≤ 3; "
            "bench/bench_engine.py measures it alone, with SQL statements per alert)"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
