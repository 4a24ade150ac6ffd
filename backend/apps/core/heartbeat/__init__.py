"""The heartbeat (terminal 2): one closed 1-minute candle per symbol on stream `heartbeat`.

`sources` makes candles (sim, replay, ccxt), `publisher` paces and publishes them,
`symbols` says which symbols matter, `status` reads the latest candle per symbol.
"""
