"""A local Binance spot exchange simulator: Binance's REST API as ccxt's `binance` class uses it,
on the simulators' shared core (`simulators.core`: one PaperBook per API key, prices, faults,
the /_sim/ control API).

See docs/exchange-simulator.md. Entry points: `python -m simulators.binance`, and
`BinanceServer` (in `simulators.binance.app`) for tests.
"""
