"""Soak under faults: random alerts for N minutes while processes are killed and Redis restarts,
then the invariants of DESIGN §5 (issue 11).

    .venv/bin/python bench/chaos.py --minutes 30              # a fault every ~20 s
    .venv/bin/python bench/chaos.py --minutes 3 --fault-every 10 --seed 7

Everything runs on loopback in a temporary folder (its own Redis with AOF `always`, SQLite unless
DATABASE_URL names a PostgreSQL server, where it creates a database of its own): the receiver, two
engines, the gateway and a Binance spot simulator reached through real ccxt. Alerts (BuyMarket,
BuyLimit, SellMarket, SellLimit, MAJ with stop-loss and take-profit, PING) go to 10 symbols and
three brokers (two paper, one on the simulator) while, at random moments, the gateway, an engine or
Redis is killed with SIGKILL and started again, and the simulator answers 429s, 5xx, late or lost
answers. Prices on the simulator walk meanwhile, so resting orders, stops and targets fill.
Then a receiver fuzz phase (bench/fuzz_receiver.py, when present) sends hostile bodies.
At the end it waits for the stack to settle, prints its figures and PASS/FAIL per invariant
(apps/core/invariants.py, shared with the fault suite), and exits 1 when any failed.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
BACKEND = BENCH.parent / "backend"
sys.path[:0] = [str(BACKEND), str(BENCH)]

from apps.core.invariants import Result  # noqa: E402
from tests.faults.harness import FaultStack, Sent  # noqa: E402

MAX_MINUTES = 24 * 60


def _fuzz(stack: FaultStack, bodies: int, sent: Sent, seed: int) -> str:
    """Hostile bodies at the receiver through bench/fuzz_receiver.py (`fuzz_receiver(url=, token=,
    bodies=, seed_value=)` → FuzzResult); the accepted ones join `sent`, so the checker asks each
    for its row. A 5xx other than 503 is a failure."""
    try:
        module = importlib.import_module("fuzz_receiver")
    except ImportError:
        return "skipped: bench/fuzz_receiver.py is not there"
    fuzz: Callable[..., Any] | None = getattr(module, "fuzz_receiver", None)
    if fuzz is None:
        return "skipped: bench/fuzz_receiver.py has no fuzz_receiver()"
    url = f"http://127.0.0.1:{stack.stack.receiver_port}"
    result = fuzz(url=url, token=stack.accounts[0].token, bodies=bodies, seed_value=seed)
    for trace_id in result.accepted_trace_ids:
        sent.accepted[str(trace_id)] = "fuzz body"
    verdict = f"FAIL: {len(result.server_errors)} 5xx other than 503" if result.server_errors else "no 5xx but 503"
    statuses = dict(sorted(result.statuses.items()))
    return f"{result.sent} requests, {len(result.accepted_trace_ids)} accepted, statuses {statuses}: {verdict}"


class Chaos:
    """The alert stream, the price walk and the faults, each on its own clock."""

    def __init__(self, stack: FaultStack, *, rng: random.Random, rate: float, fault_every: float) -> None:
        self.stack = stack
        self.rng = rng
        self.rate = rate
        self.fault_every = fault_every
        self.sent = Sent()
        self.faults: Counter[str] = Counter()
        self.fault_log: list[str] = []
        self._stop = threading.Event()

    def alerts(self) -> None:
        n = 0
        while not self._stop.is_set():
            account, alert = self.stack.alert_random(self.rng, n)
            self.stack.send(account, alert, self.sent)
            n += 1
            self._stop.wait(self.rng.expovariate(self.rate))

    def prices(self) -> None:
        """Every second one symbol moves up to 2 % on the simulator (stops and targets fill)."""
        while not self._stop.wait(1.0):
            symbol = self.rng.choice(list(self.stack.prices))
            move = Decimal(str(round(self.rng.uniform(-0.02, 0.02), 4)))
            last = self.stack.prices[symbol] * (1 + move)
            try:
                self.stack.sim_price(symbol, Decimal(f"{last:.6g}"))
            except Exception as exc:  # the simulator is never killed; a failure here is worth a line
                print(f"price move failed: {exc}", flush=True)

    def fault(self) -> str:
        """One fault, chosen at random; returns its name."""
        stack, rng = self.stack, self.rng
        choice = rng.choice(
            ["gateway", "engine", "engine2", "redis", "exchange-429", "exchange-timeout", "exchange-5xx"]
        )
        if choice in ("gateway", "engine", "engine2"):
            stack.kill(choice)
            time.sleep(rng.choice([0.0, 0.5, 2.0]))
            stack.stack.start(choice)
        elif choice == "redis":
            stack.redis_restart(down_seconds=rng.choice([0.2, 1.0, 3.0]))
        elif choice == "exchange-429":
            stack.sim_faults(rate_limit=rng.randint(1, 4), retry_after=1)
        elif choice == "exchange-timeout":
            mode = rng.choice(["drop", "delay"])
            stack.sim_faults(timeout_after_accept=rng.randint(1, 2), timeout_mode=mode, timeout_hold_ms=12_000)
        else:
            stack.sim_faults(status_5xx=rng.randint(1, 3), status_code=rng.choice([500, 502, 503]))
        return choice

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=target, daemon=True) for target in (self.alerts, self.prices)]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        try:
            while True:
                wait = self.rng.uniform(0.5, 1.5) * self.fault_every
                if time.monotonic() - started + wait > seconds:
                    break
                time.sleep(wait)
                name = self.fault()
                self.faults[name] += 1
                line = f"{time.monotonic() - started:7.1f} s  fault {name}  ({len(self.sent.accepted)} alerts so far)"
                self.fault_log.append(line)
                print(line, flush=True)
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="how long alerts and faults run (default 3)")
    parser.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults, on average (20)")
    parser.add_argument("--rate", type=float, default=5.0, help="alerts per second, on average (5)")
    parser.add_argument("--fuzz", type=int, default=3000, help="hostile bodies in the fuzz phase (3000; 0: none)")
    parser.add_argument("--settle", type=float, default=120.0, help="seconds to wait for the stack to settle (120)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed; default: a new one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= MAX_MINUTES or args.fault_every <= 0 or not 0 < args.rate <= 200:
        parser.error(f"--minutes must be in (0, {MAX_MINUTES}], --fault-every > 0, --rate in (0, 200]")
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    tmp = Path(tempfile.mkdtemp(prefix="aristobot-chaos-"))
    print(f"chaos: seed {seed}, {args.minutes:g} min, a fault every ~{args.fault_every:g} s, folder {tmp}", flush=True)
    stack = FaultStack(tmp)
    results: list[Result] = []
    try:
        stack.setup(engines=2)
        chaos = Chaos(stack, rng=random.Random(seed), rate=args.rate, fault_every=args.fault_every)
        started = time.monotonic()
        chaos.run(args.minutes * 60)
        ran = time.monotonic() - started
        fuzzed = _fuzz(stack, args.fuzz, chaos.sent, seed) if args.fuzz else "skipped (--fuzz 0)"
        settle_started = time.monotonic()
        waiting = stack.settle(chaos.sent, timeout=args.settle)
        settled = time.monotonic() - settle_started
        results = stack.check(chaos.sent)
        sent = chaos.sent
        print()
        print(
            f"ran {ran:.0f} s: {len(sent.accepted)} alerts answered 200, {sent.refused} not accepted; HTTP {sent.by_status}"
        )
        print(f"faults: {dict(chaos.faults)}")
        print(f"fuzz: {fuzzed}")
        print(f"settled in {settled:.1f} s" if not waiting else f"NOT settled after {settled:.0f} s: {waiting}")
        print(stack.summary())
        print()
        for result in results:
            print(result.line(limit=20))
        failed = [result.name for result in results if not result.ok] + (["settle"] if waiting else [])
        if "FAIL" in fuzzed:
            failed.append("fuzz")
        print()
        print(f"{'FAIL' if failed else 'PASS'} (seed {seed}; logs in {tmp})")
        return 1 if failed else 0
    finally:
        stack.stop()
        if not args.keep and results and all(result.ok for result in results):
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
