"""Binance's signed-request rules checked with raw HTTP: what is signed, recvWindow, timestamp."""

from __future__ import annotations

from typing import Any

import aiohttp

from simulators.binance.app import BinanceServer
from simulators.binance.auth import sign
from simulators.core.state import Simulator

from .conftest import API_KEY, API_SECRET, Control

NOW = 1_700_000_000_000
HEADERS = {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"}


async def call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with session.request(method, url, headers=HEADERS, **kwargs) as response:
        return response.status, await response.json()


async def test_query_and_body_are_signed_together_as_binance_total_params(
    server: BinanceServer, simulator: Simulator, control: Control
) -> None:
    simulator.clock = lambda: NOW
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.01&price=39000&recvWindow=5000&timestamp={NOW}"
    signature = sign(API_SECRET, query + body)  # Binance: query string directly followed by the body
    url = f"{server.base_url}/api/v3/order?{query}"
    status, answer = await call(control.session, "POST", url, data=f"{body}&signature={signature}")
    assert status == 200, answer
    assert answer["status"] == "NEW"


async def test_a_changed_parameter_breaks_the_signature(
    server: BinanceServer, simulator: Simulator, control: Control
) -> None:
    simulator.clock = lambda: NOW
    signed = f"timestamp={NOW}"
    url = f"{server.base_url}/api/v3/account?{signed}&omitZeroBalances=true&signature={sign(API_SECRET, signed)}"
    status, answer = await call(control.session, "GET", url)
    assert (status, answer) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})


async def test_recv_window_above_60000_is_refused(
    server: BinanceServer, simulator: Simulator, control: Control
) -> None:
    simulator.clock = lambda: NOW
    query = f"recvWindow=60001&timestamp={NOW}"
    url = f"{server.base_url}/api/v3/account?{query}&signature={sign(API_SECRET, query)}"
    status, answer = await call(control.session, "GET", url)
    assert (status, answer["code"]) == (400, -1131)


async def test_default_recv_window_is_5000(server: BinanceServer, simulator: Simulator, control: Control) -> None:
    simulator.clock = lambda: NOW + 5_001
    query = f"timestamp={NOW}"
    url = f"{server.base_url}/api/v3/account?{query}&signature={sign(API_SECRET, query)}"
    status, answer = await call(control.session, "GET", url)
    assert (status, answer["code"]) == (400, -1021)
    simulator.clock = lambda: NOW + 5_000
    status, answer = await call(control.session, "GET", url)
    assert status == 200, answer


async def test_a_timestamp_one_second_ahead_is_refused(
    server: BinanceServer, simulator: Simulator, control: Control
) -> None:
    simulator.clock = lambda: NOW
    for ahead, expected in ((999, 200), (1_000, 400)):
        query = f"timestamp={NOW + ahead}"
        url = f"{server.base_url}/api/v3/account?{query}&signature={sign(API_SECRET, query)}"
        status, _ = await call(control.session, "GET", url)
        assert status == expected, ahead


async def test_public_endpoints_need_no_key(server: BinanceServer, control: Control) -> None:
    async with control.session.get(f"{server.base_url}/api/v3/ping") as response:
        assert (response.status, await response.json()) == (200, {})
    url = f'{server.base_url}/api/v3/exchangeInfo?symbols=["BTCUSDT","ETHUSDT"]'
    async with control.session.get(url) as response:
        assert [s["symbol"] for s in (await response.json())["symbols"]] == ["BTCUSDT", "ETHUSDT"]


async def test_an_endpoint_the_simulator_does_not_serve_is_404(server: BinanceServer, control: Control) -> None:
    async with control.session.get(f"{server.base_url}/sapi/v1/capital/config/getall") as response:
        assert response.status == 404
