"""The command line every simulator shares: `python -m simulators.<exchange> --port … --api-key …`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

from simulators.core.config import DEFAULT_BALANCES, simulator_config
from simulators.core.server import DEFAULT_HOST, SimulatorServer, serve
from simulators.core.state import Simulator
from trading.numbers import decimal_from
from trading.paper.markets import TAKER_FEE

ServerFactory = Callable[..., SimulatorServer]


def main(argv: Sequence[str] | None, *, title: str, server: ServerFactory, default_port: int) -> None:
    """Parse the options, start `server(simulator, host=, port=)`, print its keys and run until a signal."""
    parser = argparse.ArgumentParser(description=f"Run a local {title} simulator on the paper matching engine.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument("--api-key", default=None, help="the account's API key (made up when not given)")
    parser.add_argument("--api-secret", default=None, help="the account's API secret (made up when not given)")
    parser.add_argument(
        "--balance", action="append", default=None, help="starting balance ASSET=AMOUNT, repeatable (USDT=10000)"
    )
    parser.add_argument("--price", action="append", default=[], help="starting price SYMBOL=PRICE (BTCUSDT=40000)")
    parser.add_argument("--fee-rate", default=str(TAKER_FEE), help=f"fee per fill (default {TAKER_FEE})")
    options = parser.parse_args(argv)
    fee_rate = decimal_from(options.fee_rate)
    if fee_rate is None or not Decimal(0) <= fee_rate < 1:
        parser.error(f"--fee-rate must be a number from 0 to 1, not {options.fee_rate!r}")
    try:
        config = simulator_config(
            api_key=options.api_key,
            api_secret=options.api_secret,
            balances=options.balance or DEFAULT_BALANCES,
            prices=options.price,
            fee_rate=fee_rate,
        )
        simulator = Simulator(config)
    except ValueError as error:
        parser.error(str(error))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    account = config.accounts[0]

    def ready(base_url: str) -> None:
        print(f"{title} simulator on {base_url} (control API: {base_url}/_sim/)", flush=True)
        print(f"  api key:    {account.api_key}", flush=True)
        print(f"  api secret: {account.api_secret}", flush=True)
        print(f"  point a broker at it with api_base_url = {base_url}", flush=True)

    asyncio.run(serve(server(simulator, host=options.host, port=options.port), on_ready=ready))
