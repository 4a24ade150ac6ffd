"""One exchange contract, two venues: the paper exchange, and ccxt's binance on the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import aiohttp
import pytest

from simulators.binance.app import BinanceServer
from simulators.core.state import AccountSpec, Simulator, SimulatorConfig
from trading.exchange import Exchange
from trading.live.exchange import CcxtConfig, CcxtExchange
from trading.paper.book import PaperBook
from trading.paper.exchange import InMemoryPaperStore, PaperExchange, PriceBoard

API_KEY = "K" * 64
API_SECRET = "S" * 64
START = Decimal(40_000)


@dataclass
class Venue:
    name: str
    exchange: Exchange
    move_price: Callable[..., Awaitable[None]]


@pytest.fixture(params=["paper", "binance-simulator"])
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    if request.param == "paper":
        prices = PriceBoard()
        paper = PaperExchange(
            account_key="1",
            book=PaperBook.new(Decimal(10_000), Decimal("0.001")),
            prices=prices,
            store=InMemoryPaperStore(),
        )
        await paper.on_price("BTC/USDT", last=START)

        async def paper_price(last: str, low: str | None = None, high: str | None = None) -> None:
            await paper.on_price(
                "BTC/USDT",
                last=Decimal(last),
                low=Decimal(low) if low else None,
                high=Decimal(high) if high else None,
            )

        yield Venue("paper", paper, paper_price)
        return
    account = AccountSpec(api_key=API_KEY, api_secret=API_SECRET, balances={"USDT": Decimal(10_000)})
    simulator = Simulator(SimulatorConfig(accounts=(account,), prices={"BTCUSDT": START}))
    async with BinanceServer(simulator) as server, aiohttp.ClientSession() as session:
        live = CcxtExchange(
            CcxtConfig(
                exchange_id="binance",
                label="'Sim' (#1, binance)",
                api_key=API_KEY,
                secret=API_SECRET,
                api_base_url=server.base_url,
            ),
        )

        async def sim_price(last: str, low: str | None = None, high: str | None = None) -> None:
            payload = {
                "symbol": "BTCUSDT",
                "last": last,
                **({"low": low} if low else {}),
                **({"high": high} if high else {}),
            }
            async with session.post(f"{server.base_url}/_sim/price", json=payload) as answer:
                assert answer.status == 200, await answer.text()

        try:
            yield Venue("binance-simulator", live, sim_price)
        finally:
            await live.close()
