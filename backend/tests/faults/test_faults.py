"""The pipeline under faults: real processes killed at random moments, Redis restarted from its
AOF, the exchange answering 429s and losing answers; then the invariants of DESIGN §5."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from apps.core.streams import ENGINE_GROUP, WEBHOOK_RAW, text
from tests.faults.harness import PRICES, Account, FaultStack, Sent

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SEED = int(os.environ.get("FAULTS_SEED", random.randrange(10**6)))


def _processed_after(faulty: FaultStack, account: Account, symbol: str, sent: Sent) -> tuple[float, float]:
    """Send a buy until answered 200; (seconds until answered, seconds answered → recorded final)."""
    started = time.monotonic()
    while True:
        alert: dict[str, Any] = {"Symbol": symbol, "Action": "BuyMarket", "PourCent": "1", "Prix": str(PRICES[symbol])}
        alert |= {"UserExchangeID": account.broker_id, "ID": f"recovery-{time.time_ns()}"}
        trace_id = faulty.send(account, alert, sent, retries=0)
        if trace_id is not None:
            break
        time.sleep(0.02)
    answered = time.monotonic()
    faulty.wait_for(lambda: faulty.webhook_status(trace_id) in ("processed", "error"), timeout=30, what=trace_id)
    return answered - started, time.monotonic() - answered


def test_redis_restart_and_engine_kill_recover_within_seconds(faulty: FaultStack) -> None:
    sent = Sent()
    paper = faulty.accounts[0]
    _processed_after(faulty, paper, "BTCUSDT", sent)  # warm: markets loaded, connections open

    faulty.redis_restart(down_seconds=0.5)
    waited, took = _processed_after(faulty, paper, "BTCUSDT", sent)
    print(f"Redis restart: answered after {waited:.2f} s, first alert processed {took:.2f} s later")
    assert took <= 2.0, f"first alert after a Redis restart took {took:.2f} s\n{faulty.stack.logs()}"

    active = _active_engine(faulty)
    processes = {"engine-e2e": "engine", "engine-e2e-2": "engine2"}
    faulty.kill(processes[active])
    killed = time.monotonic()
    _waited, took = _processed_after(faulty, paper, "ETHUSDT", sent)
    resumed = time.monotonic() - killed
    print(f"active engine SIGKILL: the standby ran the next alert {resumed:.2f} s after the kill")
    assert resumed <= 3.0, f"work resumed {resumed:.2f} s after the engine was killed\n{faulty.stack.logs()}"
    assert _active_engine(faulty) != active
    faulty.stack.start(processes[active])


def test_alert_stream_under_kills_restarts_and_exchange_faults_keeps_the_invariants(faulty: FaultStack) -> None:
    rng = random.Random(SEED)
    sent = Sent()
    stop = threading.Event()

    def stream() -> None:
        n = 0
        while not stop.is_set():
            account, alert = faulty.alert_random(rng, n)
            faulty.send(account, alert, sent)
            n += 1
            time.sleep(rng.uniform(0.02, 0.12))

    sender = threading.Thread(target=stream, name="alerts", daemon=True)
    sender.start()
    faults: list[tuple[str, Callable[[], None]]] = [
        ("gateway", lambda: _restart(faulty, "gateway", pause=1.0)),
        ("engine", lambda: _restart(faulty, "engine")),
        ("redis", lambda: faulty.redis_restart(down_seconds=0.3)),
        (
            "exchange",
            lambda: faulty.sim_faults(rate_limit=3, retry_after=1, timeout_after_accept=2, timeout_mode="drop"),
        ),
        ("gateway", lambda: _restart(faulty, "gateway")),
    ]
    rng.shuffle(faults)
    try:
        for name, inject in faults:
            time.sleep(rng.uniform(1.0, 2.5))
            print(f"fault: {name}")
            inject()
        time.sleep(2.0)
    finally:
        stop.set()
        sender.join(timeout=10)
    waiting = faulty.settle(sent, timeout=45)
    results = faulty.check(sent)
    report = "\n".join(result.line() for result in results)
    print(f"seed {SEED}: {len(sent.accepted)} alerts answered 200, {sent.refused} refused; {sent.by_status}")
    print(f"{faulty.summary()}\n{report}")
    assert not waiting, f"seed {SEED}: still moving after 45 s: {waiting}\n{report}\n{faulty.stack.logs()}"
    assert all(result.ok for result in results), f"seed {SEED}\n{report}"
    assert len(sent.accepted) > 50


def _restart(faulty: FaultStack, name: str, *, pause: float = 0.0) -> None:
    faulty.kill(name)
    time.sleep(pause)
    faulty.stack.start(name)


def _active_engine(faulty: FaultStack) -> str:
    """The consumer name of the active engine: the one reading the alert stream (a standby
    never reads)."""
    import redis

    client = redis.Redis.from_url(faulty.redis.url)
    try:
        consumers: Any = client.xinfo_consumers(WEBHOOK_RAW, ENGINE_GROUP)
        return text(min(consumers, key=lambda consumer: int(consumer["idle"]))["name"])
    finally:
        client.close()
