"""Exchange simulators: test tools, outside the apps, that speak an exchange's REST API the way
ccxt calls it, on the paper matching engine, with faults to arm.

`core/` holds the accounts, prices, faults, control API and server every simulator shares;
`binance/` is Binance spot's protocol (`python -m simulators.binance`). See docs/exchange-simulator.md.
"""
