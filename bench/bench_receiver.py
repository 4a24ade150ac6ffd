"""Benchmark of the webhook receiver: open-loop latency at 200 alerts/s, then saturated throughput.

Starts its own redis-server (AOF everysec, like production) and the real `manage.py run_webhook_receiver`
(legacy token, a migrated file SQLite), all in a temporary directory, and removes everything afterwards.
Run: .venv/bin/python bench/bench_receiver.py [--rate 200] [--seconds 10] [--saturate-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backend"))
from apps.core.ports import free_port

REPO = Path(__file__).resolve().parents[1]
MANAGE = REPO / "backend" / "manage.py"
TOKEN = "bench-legacy-token"
ALERT = json.dumps(
    {
        "Token": TOKEN,
        "UserID": 1,
        "UserExchangeID": 1,
        "Symbol": "BTCUSDT",
        "Exchange": "BINANCE",
        "Interval": "5",
        "BarTime": "2025-01-01T12:05:00Z",
        "Action": "BuyMarket",
        "Prix": 97123.45,
        "PrixSL": 95000.0,
        "PrixTP": 101000.0,
        "PourCent": 25,
        "Open": 97000.1,
        "High": 97250.0,
        "Low": 96900.5,
        "Close": 97123.45,
        "Volume": 12.345,
        "Currency": "USDT",
        "BaseCurrency": "BTC",
        "IndicateurName": "bench",
    }
).encode()
HEADERS = {"Content-Type": "text/plain; charset=utf-8"}


def wait_for(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not come up within {timeout}s")


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@contextmanager
def processes(workdir: Path) -> Iterator[tuple[str, int, int]]:
    """A redis-server and a receiver; yields (receiver url, receiver pid, redis pid)."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(redis)
        wait_for(lambda: port_open(redis_port), "redis-server")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "aristobot.settings_test",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "ARISTOBOT_VAR_DIR": str(workdir),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "WEBHOOK_TOKEN": TOKEN,
            "WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run([sys.executable, str(MANAGE), "migrate", "--noinput", "-v0"], env=env, check=True)
        port = free_port()
        receiver = subprocess.Popen(
            [sys.executable, str(MANAGE), "run_webhook_receiver", "--host", "127.0.0.1", "--port", str(port)], env=env
        )
        started.append(receiver)
        wait_for(lambda: port_open(port), "the receiver")
        yield f"http://127.0.0.1:{port}", receiver.pid, redis.pid
    finally:
        for proc in reversed(started):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def post(session: aiohttp.ClientSession, url: str) -> bool:
    async with session.post(url, data=ALERT, headers=HEADERS) as response:
        await response.read()
        return response.status == 200


async def open_loop(session: aiohttp.ClientSession, url: str, rate: float, seconds: float) -> None:
    """Send at a fixed schedule; latency counts from the scheduled time, so a stall is not hidden."""
    clock = time.perf_counter  # uvloop's loop.time() has a 1 ms resolution
    latencies: list[float] = []
    failures = 0

    async def one(scheduled: float) -> None:
        nonlocal failures
        try:
            ok = await post(session, url)
        except aiohttp.ClientError:
            ok = False
        latencies.append(clock() - scheduled)
        failures += not ok

    count = int(rate * seconds)
    start = clock() + 0.05
    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        if (delay := scheduled - clock()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    values = sorted(latencies)
    ms = {name: percentile(values, q) * 1000 for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    print(
        f"open loop {rate:.0f} alerts/s for {seconds:.0f} s: {count} sent, {failures} not 200; latency from the "
        f"scheduled send time: p50 {ms['p50']:.2f} ms, p90 {ms['p90']:.2f} ms, p99 {ms['p99']:.2f} ms, "
        f"max {values[-1] * 1000:.2f} ms"
    )


async def saturate(url: str, senders: int, seconds: float, receiver_pid: int, redis_pid: int) -> float:
    """`senders` connections posting back to back; returns alerts/s answered 200."""
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=senders, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(post(session, url) for _ in range(senders)))  # open the connections
        done = 0
        failures = 0
        end = loop.time() + seconds

        async def sender() -> None:
            nonlocal done, failures
            while loop.time() < end:
                if await post(session, url):
                    done += 1
                else:
                    failures += 1

        cpu_before = (cpu_seconds(receiver_pid), cpu_seconds(redis_pid), time.process_time())
        machine_before = machine_busy()
        began = loop.time()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = loop.time() - began
        receiver_cpu = cpu_seconds(receiver_pid) - cpu_before[0]
        redis_cpu = cpu_seconds(redis_pid) - cpu_before[1]
        client_cpu = time.process_time() - cpu_before[2]
        machine_after = machine_busy()
    rate = done / elapsed
    machine = (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
    per_cpu = done / receiver_cpu if receiver_cpu else float("nan")
    print(
        f"saturation, {senders:3d} senders, {elapsed:.1f} s: {rate:7.0f} alerts/s ({failures} not 200); "
        f"CPU used: receiver {receiver_cpu / elapsed:.0%}, load generator {client_cpu / elapsed:.0%}, "
        f"redis {redis_cpu / elapsed:.0%} of a core, machine {machine:.0%} busy -> {per_cpu:.0f} alerts per "
        "receiver CPU-second"
    )
    return rate


async def bench(url: str, receiver_pid: int, redis_pid: int, args: argparse.Namespace) -> None:
    webhook = f"{url}/webhook"
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(300):  # warm-up: connections, caches
            await post(session, webhook)
        await open_loop(session, webhook, args.rate, args.seconds)
    best = max([await saturate(webhook, n, args.saturate_seconds, receiver_pid, redis_pid) for n in (8, 32, 128)])
    print(f"saturated throughput (best): {best:.0f} alerts/s")
    async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as response:
        health = await response.json()
    print(f"receiver health: received {health['received']}, rejected {health['rejected']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--saturate-seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPU cores shared by the receiver, redis-server and this load generator "
        "(aiohttp client, one process): saturated figures are lower than with a dedicated receiver core."
    )
    workdir = Path(tempfile.mkdtemp(prefix="aristobot-bench-"))
    try:
        with processes(workdir) as (url, receiver_pid, redis_pid):
            try:
                import uvloop

                runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
            except ImportError:
                runner = asyncio.Runner()
            with runner:
                runner.run(bench(url, receiver_pid, redis_pid, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
