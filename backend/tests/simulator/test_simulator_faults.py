"""Authentication errors and armed faults reach ccxt as the exception a real Binance answer raises."""

from __future__ import annotations

import time
from typing import Any

import ccxt.async_support as ccxt
import pytest

from simulators.binance.app import BinanceServer

from .conftest import API_KEY, Control, binance_for


async def test_wrong_secret_is_authentication_error(server: BinanceServer) -> None:
    client = binance_for(server.base_url, secret="wrong" * 10)
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_unknown_api_key_is_authentication_error(server: BinanceServer) -> None:
    client = binance_for(server.base_url, api_key="B" * 64)
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_unknown_api_key_after_a_success_is_ddos_protection_in_ccxt(server: BinanceServer) -> None:
    """ccxt reads -2015 after a successful private call as a temporary ban (its hasAlreadyAuthenticatedSuccessfully)."""
    client = binance_for(server.base_url)
    try:
        await client.fetch_balance()
        client.apiKey = "B" * 64
        with pytest.raises(ccxt.DDoSProtection, match="-2015"):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_stale_timestamp_is_invalid_nonce(exchange: Any) -> None:
    exchange.options["timeDifference"] = 15_000  # the client's clock 15 s behind; ccxt sends recvWindow 10000
    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
        await exchange.fetch_balance()


async def test_timestamp_ahead_of_the_server_is_invalid_nonce(exchange: Any) -> None:
    exchange.options["timeDifference"] = -1_500
    with pytest.raises(ccxt.InvalidNonce, match="ahead of the server"):
        await exchange.fetch_balance()


async def test_insufficient_balance_fault(exchange: Any, control: Control) -> None:
    await control.faults(insufficient_balance=1)
    with pytest.raises(ccxt.InsufficientFunds, match="insufficient balance"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert await control.orders() == []
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert len(await control.orders()) == 1


async def test_duplicate_client_id_fault_is_invalid_order(exchange: Any, control: Control) -> None:
    await control.faults(duplicate_client_id=1)
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "dup"})
    assert await control.orders() == []


async def test_rate_limit_is_ddos_protection_with_retry_after(exchange: Any, control: Control) -> None:
    await control.faults(rate_limit=1, retry_after=3)
    with pytest.raises(ccxt.DDoSProtection, match="429"):
        await exchange.fetch_balance()
    assert exchange.last_response_headers["Retry-After"] == "3"
    await exchange.fetch_balance()


async def test_ip_ban_418_is_ddos_protection(exchange: Any, control: Control) -> None:
    await control.faults(rate_limit=1, rate_limit_status=418)
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        await exchange.fetch_ticker("BTC/USDT")


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_exchange_not_available(exchange: Any, control: Control, status: int) -> None:
    await control.faults(status_5xx=2, status_code=status)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable, match=str(status)):
            await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert await control.orders() == []
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01)


async def test_504_is_request_timeout(exchange: Any, control: Control) -> None:
    await control.faults(status_5xx=1, status_code=504)
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.fetch_balance()


async def test_waf_403_is_exchange_not_available(exchange: Any, control: Control) -> None:
    await control.faults(forbidden=1)
    with pytest.raises(ccxt.ExchangeNotAvailable, match="403"):
        await exchange.fetch_balance()


async def test_latency_is_added_to_every_request(exchange: Any, control: Control) -> None:
    await control.faults(latency_ms=200)
    started = time.monotonic()
    await exchange.fetch_time()
    assert time.monotonic() - started >= 0.2
    await control.faults(latency_ms=0)


async def test_latency_beyond_the_client_timeout_is_request_timeout(server: BinanceServer, control: Control) -> None:
    await control.faults(latency_ms=1_000)
    client = binance_for(server.base_url, timeout_ms=300)
    try:
        with pytest.raises(ccxt.RequestTimeout):
            await client.fetch_time()
    finally:
        await client.close()


async def test_timeout_after_accept_leaves_exactly_one_order(server: BinanceServer, control: Control) -> None:
    client = binance_for(server.base_url, timeout_ms=500)
    try:
        await client.load_markets()
        await control.faults(timeout_after_accept=1)
        with pytest.raises(ccxt.RequestTimeout):
            await client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "lost-answer"})
        orders = await control.orders()
        assert [(o["clientOrderId"], o["status"]) for o in orders] == [("lost-answer", "FILLED")]
        found = await client.fetch_order(None, "BTC/USDT", params={"clientOrderId": "lost-answer"})
        assert found["status"] == "closed"
    finally:
        await client.close()


async def test_timeout_after_accept_by_dropping_the_connection(exchange: Any, control: Control) -> None:
    await control.faults(timeout_after_accept=1, timeout_mode="drop")
    with pytest.raises(ccxt.ExchangeNotAvailable):  # ccxt's answer to a connection closed mid-request
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "dropped"})
    assert [o["clientOrderId"] for o in await control.orders()] == ["dropped"]


async def test_faults_do_not_touch_the_control_api(control: Control) -> None:
    await control.faults(status_5xx=1, rate_limit=1)
    assert (await control.get("faults"))["status_5xx"] == 1


async def test_the_api_key_is_checked_before_anything_else(control: Control, server: BinanceServer) -> None:
    async with control.session.get(f"{server.base_url}/api/v3/account?timestamp=1&signature=00") as response:
        assert response.status == 401
        assert await response.json() == {"code": -2014, "msg": "API-key format invalid."}
    headers = {"X-MBX-APIKEY": API_KEY}
    async with control.session.get(f"{server.base_url}/api/v3/account", headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["code"] == -1102


async def test_fault_route_narrows_request_faults_to_one_route(exchange: Any, control: Control) -> None:
    await control.faults(status_5xx=1, fault_route="POST /api/v3/order")
    await exchange.fetch_balance()  # not the route: untouched, the counter stays armed
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "routed"})
    assert await control.orders() == []
    armed = await control.get("faults")
    assert armed["status_5xx"] == 0
    async with control.session.post(f"{control.base_url}/_sim/faults", json={"fault_route": "order"}) as answer:
        assert answer.status == 400
