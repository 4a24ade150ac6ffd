"""ccxt's binance loads markets, balance, ticker and time from the simulator with the documented options."""

from __future__ import annotations

from typing import Any

from simulators.binance.app import BinanceServer
from simulators.core.state import Simulator
from trading.paper.markets import PAPER_MARKETS

from .conftest import Control, binance_for


async def test_load_markets_calls_only_spot_exchange_info(server: BinanceServer, control: Control) -> None:
    client = binance_for(server.base_url)
    try:
        markets = await client.load_markets()
    finally:
        await client.close()
    assert await control.get("requests") == ["GET /api/v3/exchangeInfo"]
    assert {symbol for symbol, market in markets.items() if market["spot"]} == set(PAPER_MARKETS)


async def test_btc_usdt_has_binance_precision_and_limits(exchange: Any) -> None:
    market = exchange.market("BTC/USDT")
    assert market["id"] == "BTCUSDT"
    assert market["precision"]["amount"] == 0.00001
    assert market["precision"]["price"] == 0.01
    assert market["limits"]["amount"]["min"] == 0.00001
    assert market["limits"]["cost"]["min"] == 5
    assert market["active"] is True
    assert exchange.amount_to_precision("BTC/USDT", 0.123456789) == "0.12345"


async def test_fetch_balance_gives_the_starting_usdt(exchange: Any) -> None:
    balance = await exchange.fetch_balance()
    assert (balance["USDT"]["free"], balance["USDT"]["used"], balance["USDT"]["total"]) == (10_000, 0, 10_000)
    assert "BTC" not in balance["total"] or balance["total"]["BTC"] == 0


async def test_fetch_ticker_follows_the_control_price(exchange: Any, control: Control) -> None:
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 40_000
    await control.price("41234.56", low="39000", high="42000")
    ticker = await exchange.fetch_ticker("BTC/USDT")
    assert ticker["last"] == 41234.56
    assert ticker["high"] == 42_000
    assert ticker["low"] == 39_000
    assert ticker["open"] == 40_000


async def test_ticker_without_a_price_is_zero_as_binance_answers_for_no_trades(exchange: Any) -> None:
    ticker = await exchange.fetch_ticker("ETH/USDT")
    assert ticker["info"]["lastPrice"] == "0.00000000"
    assert ticker["last"] is None  # ccxt reads Binance's zero as "no price"


async def test_fetch_time_is_the_simulator_clock(exchange: Any, simulator: Simulator) -> None:
    simulator.clock = lambda: 1_700_000_000_000
    assert await exchange.fetch_time() == 1_700_000_000_000


async def test_without_fetch_margins_off_ccxt_also_asks_for_margin_pairs(
    server: BinanceServer, control: Control
) -> None:
    client = binance_for(server.base_url)
    client.options["fetchMargins"] = True  # ccxt's default
    try:
        markets = await client.load_markets()
    finally:
        await client.close()
    assert sorted(await control.get("requests")) == [
        "GET /api/v3/exchangeInfo",
        "GET /sapi/v1/margin/allPairs",
        "GET /sapi/v1/margin/isolated/allPairs",
    ]
    assert markets["BTC/USDT"]["marginModes"] == {"cross": False, "isolated": False}
