"""The /_sim/ control API: accounts, prices, faults, reset, and the list of accepted orders."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.binance.app import BinanceServer
from simulators.core.config import parse_pairs, simulator_config
from simulators.core.state import Simulator

from .conftest import Control, binance_for


async def test_a_created_account_trades_with_its_own_keys_and_balances(server: BinanceServer, control: Control) -> None:
    created = await control.post("accounts", {"balances": {"USDT": "500", "BTC": "0.1"}})
    assert len(created["api_key"]) == len(created["api_secret"]) == 64
    client = binance_for(server.base_url, api_key=created["api_key"], secret=created["api_secret"])
    try:
        balance = await client.fetch_balance()
        assert (balance["USDT"]["total"], balance["BTC"]["total"]) == (500, 0.1)
        await client.create_order("BTC/USDT", "market", "sell", 0.1)
    finally:
        await client.close()
    orders = await control.orders()
    assert [o["apiKey"] for o in orders] == [created["api_key"]]
    assert (await control.get(f"orders?api_key={created['api_key']}"))["count"] == 1
    assert (await control.get("orders?api_key=someone-else"))["count"] == 0


async def test_reset_returns_to_the_startup_state(exchange: Any, control: Control, simulator: Simulator) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000)
    await control.price("45000")
    await control.faults(status_5xx=3)
    await control.post("accounts", {"api_key": "extra", "api_secret": "x"})
    await control.post("reset")
    assert await control.orders() == []
    assert (await control.get("faults"))["status_5xx"] == 0
    assert list(simulator.accounts) == [exchange.apiKey]
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 40_000
    assert (await exchange.fetch_balance())["USDT"]["free"] == 10_000


async def test_price_accepts_unified_symbols_and_reports_changed_orders(exchange: Any, control: Control) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "dip"})
    answer = await control.price("38000", symbol="BTC/USDT")
    assert answer["symbol"] == "BTCUSDT"
    assert [(o["clientOrderId"], o["status"]) for o in answer["changed"]] == [("dip", "FILLED")]


@pytest.mark.parametrize(
    ("path", "payload", "error"),
    [
        ("price", {"symbol": "NOPEUSDT", "last": "1"}, "Invalid symbol"),
        ("price", {"symbol": "BTCUSDT"}, "'last' is required"),
        ("price", {"symbol": "BTCUSDT", "last": "abc"}, "must be a number"),
        ("faults", {"status_5xx": -1}, "whole number"),
        ("faults", {"status_5xx": 1, "status_code": 404}, "5xx"),
        ("faults", {"timeout_mode": "hang"}, "timeout_mode"),
        ("faults", {"typo": 1}, "unknown fault"),
        ("accounts", {"balances": ["USDT"]}, "balances"),
    ],
)
async def test_bad_control_requests_say_what_is_wrong(
    server: BinanceServer, control: Control, path: str, payload: dict[str, Any], error: str
) -> None:
    async with control.session.post(f"{server.base_url}/_sim/{path}", json=payload) as response:
        assert response.status == 400
        assert error in (await response.json())["error"]


async def test_a_wrong_fault_changes_nothing(control: Control) -> None:
    await control.faults(status_5xx=1)
    async with control.session.post(
        f"{control.base_url}/_sim/faults", json={"status_5xx": 5, "rate_limit_status": 500}
    ) as response:
        assert response.status == 400
    assert (await control.get("faults"))["status_5xx"] == 1


def test_command_line_pairs_parse_to_decimals() -> None:
    assert parse_pairs(["usdt=10000", "BTC/USDT=0.5"], what="a balance") == {"USDT": 10_000, "BTCUSDT": 0.5}
    with pytest.raises(ValueError, match="NAME=NUMBER"):
        parse_pairs(["USDT"], what="a balance")
    with pytest.raises(ValueError, match="no such market"):
        simulator_config(api_key=None, api_secret=None, prices=["FOOUSDT=1"])


def test_config_makes_up_keys_in_binance_format() -> None:
    account = simulator_config(api_key=None, api_secret=None).accounts[0]
    assert len(account.api_key) == 64 and account.api_key.isalnum()
    assert account.balances == {"USDT": 10_000}
