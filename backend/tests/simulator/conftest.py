"""Simulator fixtures: a simulator on a free port, a real ccxt binance pointed at it, and its control API."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from simulators.binance.app import BinanceServer
from simulators.binance.ccxt_urls import BINANCE_SPOT_OPTIONS, binance_urls_for
from simulators.core.state import AccountSpec, Simulator, SimulatorConfig

API_KEY = "A" * 64
API_SECRET = "S" * 64
START_PRICE = Decimal(40_000)


class Control:
    """The simulator's /_sim/ control API over HTTP, as a test or a developer uses it."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def post(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        async with self.session.post(f"{self.base_url}/_sim/{path}", json=payload or {}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def get(self, path: str) -> Any:
        async with self.session.get(f"{self.base_url}/_sim/{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def price(self, last: str, *, symbol: str = "BTCUSDT", **candle: str) -> Any:
        return await self.post("price", {"symbol": symbol, "last": last, **candle})

    async def faults(self, **faults: Any) -> Any:
        return await self.post("faults", faults)

    async def orders(self) -> list[dict[str, Any]]:
        answer = await self.get("orders")
        assert answer["count"] == len(answer["orders"])
        return list(answer["orders"])


def binance_for(base_url: str, *, api_key: str = API_KEY, secret: str = API_SECRET, timeout_ms: int = 3000) -> Any:
    """A real ccxt binance with the options and URLs an adapter uses for the simulator.

    Only for speed: ccxt's client-side throttle and its 250 ms pause in close() are off.
    """
    exchange = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "options": copy.deepcopy(BINANCE_SPOT_OPTIONS),
            "timeout": timeout_ms,
            "enableRateLimit": False,
        }
    )
    exchange.timeout_on_exit = 0
    exchange.urls["api"] = binance_urls_for(base_url, exchange.urls["api"])
    return exchange


@pytest.fixture
def simulator() -> Simulator:
    account = AccountSpec(api_key=API_KEY, api_secret=API_SECRET, balances={"USDT": Decimal(10_000)})
    return Simulator(SimulatorConfig(accounts=(account,), prices={"BTCUSDT": START_PRICE}))


@pytest.fixture
async def server(simulator: Simulator) -> AsyncIterator[BinanceServer]:
    async with BinanceServer(simulator) as running:
        yield running


@pytest.fixture
async def control(server: BinanceServer) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession() as session:
        yield Control(server.base_url, session)


@pytest.fixture
async def exchange(server: BinanceServer) -> AsyncIterator[Any]:
    """ccxt binance on the simulator, markets loaded."""
    client = binance_for(server.base_url)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()
