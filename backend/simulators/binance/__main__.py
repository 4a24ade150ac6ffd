"""`python -m simulators.binance`: a local Binance spot simulator (see docs/exchange-simulator.md)."""

from __future__ import annotations

from simulators.binance.app import DEFAULT_PORT, BinanceServer
from simulators.core.cli import main

if __name__ == "__main__":
    main(None, title="Binance spot", server=BinanceServer, default_port=DEFAULT_PORT)
