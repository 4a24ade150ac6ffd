"""Gateway benchmark: CPU the exchange gateway spends per paper request.

Starts Redis and the real gateway process, then plays the engine: per alert of a burst over 50
symbols, a buy (balance and price, market buy, stop-loss and take-profit) or a sell (balance
and price, cancel both protections, market sell), the symbols spread over several caller
threads as engines' workers do. Prints the gateway's CPU seconds per request (Linux /proc,
so other load on the machine does not count) and the wall time of the run.

    bench/bench_gateway.py [--alerts N] [--callers N] [--py-spy FILE]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import ROUND_UP, Decimal
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BACKEND, BenchStack

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aristobot.settings_test")
sys.path.insert(0, str(BACKEND))

from apps.core.gateway_client import GatewayClient
from trading.markets import Market
from trading.orders import OrderRequest, OrderSide, OrderType, ProtectionRequest
from trading.paper.markets import PAPER_MARKETS


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _on_step(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_UP) * step


def _cycle(gateway: GatewayClient, broker: int, market: Market, n: int) -> int:
    """One buy with protection, then one sell of it; returns the requests sent."""
    price = market.price_step * 100_000
    amount = _on_step(Decimal(20) / price, market.amount_step)
    tag = f"{market.id}-{n}"
    gateway.balance_and_price(broker, market.symbol)
    buy = OrderRequest(f"b-{tag}", market.symbol, OrderSide.BUY, OrderType.MARKET, amount, reference_price=price)
    gateway.create_order(broker, buy)
    protection = ProtectionRequest(
        symbol=market.symbol,
        amount=amount,
        stop_loss_client_order_id=f"sl-{tag}",
        stop_loss_price=_on_step(price * Decimal("0.9"), market.price_step),
        take_profit_client_order_id=f"tp-{tag}",
        take_profit_price=_on_step(price * Decimal("1.1"), market.price_step),
    )
    gateway.create_protection(broker, protection)
    gateway.balance_and_price(broker, market.symbol)
    gateway.cancel_orders(broker, symbol=market.symbol, client_order_ids=[f"sl-{tag}", f"tp-{tag}"])
    sell = OrderRequest(f"s-{tag}", market.symbol, OrderSide.SELL, OrderType.MARKET, amount, reference_price=price)
    gateway.create_order(broker, sell)
    return 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=1000, help="alerts in the burst (half buys, half sells)")
    parser.add_argument("--callers", type=int, default=8, help="caller threads (engine workers)")
    parser.add_argument("--py-spy", default="", help="record the gateway with py-spy (GIL holders) into this file")
    options = parser.parse_args()
    stack = BenchStack(extra_env={"PAPER_INITIAL_BALANCE_USDT": "10000000"})
    try:
        _token, broker = stack.start("gateway")
        gateway_pid = stack.processes[1].pid
        markets = sorted(PAPER_MARKETS.values(), key=lambda m: m.id)[:50]
        url = stack.env["REDIS_URL"]
        warm = GatewayClient(redis.Redis.from_url(url), timeout_seconds=30)
        for market in markets[:4]:
            _cycle(warm, broker, market, -1)
        cycles = options.alerts // 2
        sent = [0] * options.callers

        def caller(index: int) -> None:
            client = GatewayClient(redis.Redis.from_url(url), timeout_seconds=30)
            mine = [m for k, m in enumerate(markets) if k % options.callers == index]
            for n in range(index, cycles, options.callers):
                sent[index] += _cycle(client, broker, mine[(n // options.callers) % len(mine)], n)

        spy = None
        if options.py_spy:
            command = ["py-spy", "record", "--gil", "-r", "500", "-f", "raw", "-o", options.py_spy]
            spy = subprocess.Popen([*command, "-p", str(gateway_pid)], stdout=subprocess.DEVNULL)
            time.sleep(1.0)
        cpu_before = _cpu_seconds(gateway_pid)
        start = time.perf_counter()
        threads = [threading.Thread(target=caller, args=(k,)) for k in range(options.callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        cpu = _cpu_seconds(gateway_pid) - cpu_before
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()
        total = sum(sent)
        print(
            f"database: {stack.env['DATABASE_URL'].split(':')[0]}; {total} gateway requests from "
            f"{options.callers} callers in {wall:.2f} s; gateway CPU {cpu:.2f} s = "
            f"{1000 * cpu / total:.2f} ms per request"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
