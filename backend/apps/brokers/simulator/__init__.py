"""A local Binance spot exchange simulator: Binance's REST API as ccxt's `binance` class uses it,
backed by the paper matching engine (one PaperBook per API key), with fault injection for tests.

See docs/exchange-simulator.md. Entry points: `manage.py run_exchange_simulator`, and
`SimulatorServer` for tests.
"""
