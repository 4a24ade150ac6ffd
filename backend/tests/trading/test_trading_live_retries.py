"""The live adapter's retries, on a scripted ccxt client: which errors are tried again, how often,
after which pauses, and the place-once rules around them (DESIGN §5, invariant 2)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from trading.errors import InsufficientFunds, TemporaryError
from trading.live.exchange import CcxtConfig, CcxtExchange
from trading.orders import OrderRequest, OrderSide, OrderStatus, OrderType, ProtectionRequest
from trading.paper.markets import PAPER_MARKETS

BTC = PAPER_MARKETS["BTC/USDT"]


class ScriptedClient:
    """A ccxt client whose methods answer from a script: an exception is raised, anything else returned."""

    def __init__(self, **script: list[Any]) -> None:
        self.script = script
        self.calls: list[str] = []
        self.options: dict[str, Any] = {"recvWindow": 10_000}
        self.last_response_headers: dict[str, str] = {}
        self.headers_by_call: dict[int, dict[str, str]] = {}
        self.markets: dict[str, Any] = {BTC.symbol: {}}

    def _answer(self, method: str) -> Any:
        self.calls.append(method)
        self.last_response_headers = self.headers_by_call.get(len(self.calls), {})
        answers = self.script[method]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def fetch_balance(self) -> Any:
        return self._answer("fetch_balance")

    async def fetch_order(self, order_id: str, symbol: str, params: dict[str, Any]) -> Any:
        return self._answer("fetch_order")

    async def create_order(self, *args: Any) -> Any:
        return self._answer("create_order")

    async def private_post_orderlist_oco(self, params: dict[str, Any]) -> Any:
        return self._answer("oco")

    def amount_to_precision(self, symbol: str, amount: float) -> str:
        return str(amount)

    def price_to_precision(self, symbol: str, price: float) -> str:
        return str(price)

    def parse_order(self, report: dict[str, Any], market: Any) -> dict[str, Any]:
        return report


class Clock:
    """Monotonic time that jumps `step` seconds at every reading (past any request's window)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 1_000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def adapter(client: ScriptedClient, *, clock_step: float = 100.0) -> tuple[CcxtExchange, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    exchange = CcxtExchange(CcxtConfig("binance", "'Sim' (#1, binance)"), sleep=sleep, clock=Clock(clock_step))
    exchange._client = client
    exchange._markets, exchange._markets_loaded_at = {BTC.symbol: BTC}, time.monotonic()
    return exchange, waits


def filled(client_order_id: str) -> dict[str, Any]:
    return {
        "id": "7",
        "clientOrderId": client_order_id,
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "market",
        "status": "closed",
        "amount": 0.01,
        "filled": 0.01,
        "average": 40_000,
    }


def buy(client_order_id: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.01"),
    )


NOT_FOUND = ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}')


async def test_a_read_is_tried_four_times_with_doubling_pauses_then_fails(caplog: pytest.LogCaptureFixture) -> None:
    client = ScriptedClient(fetch_balance=[ccxt.NetworkError("down")])
    exchange, waits = adapter(client)
    with pytest.raises(TemporaryError, match="unreachable") as raised:
        await exchange.fetch_balance()
    assert client.calls == ["fetch_balance"] * 4
    assert waits == [0.5, 1.0, 2.0]
    assert [r.getMessage().rsplit("; ", 1)[1] for r in caplog.records if "retrying" in r.getMessage()] == [
        "retrying in 0.5 s",
        "retrying in 1.0 s",
        "retrying in 2.0 s",
    ]
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # ccxt's text stays in the log


async def test_a_refusal_carries_nothing_of_ccxts_exception() -> None:
    client = ScriptedClient(fetch_balance=[ccxt.InsufficientFunds("binance -2010 key=SECRET")])
    exchange, _ = adapter(client)
    with pytest.raises(InsufficientFunds) as raised:
        await exchange.fetch_balance()
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


async def test_a_read_that_recovers_answers_after_its_pauses() -> None:
    answer = {"free": {"USDT": 5}, "total": {"USDT": 10}}
    client = ScriptedClient(fetch_balance=[ccxt.RequestTimeout("slow"), ccxt.NetworkError("down"), answer])
    exchange, waits = adapter(client)
    balance = await exchange.fetch_balance()
    assert balance.total == {"USDT": 10}
    assert waits == [0.5, 1.0]


async def test_the_exchanges_retry_after_replaces_the_backoff() -> None:
    client = ScriptedClient(fetch_balance=[ccxt.RateLimitExceeded("429"), {"free": {}, "total": {}}])
    client.headers_by_call = {1: {"Retry-After": "7"}}
    exchange, waits = adapter(client)
    await exchange.fetch_balance()
    assert waits == [7.0]


async def test_a_refusal_is_raised_at_once_without_retrying() -> None:
    client = ScriptedClient(fetch_balance=[ccxt.InsufficientFunds("binance -2010 insufficient")])
    exchange, waits = adapter(client)
    with pytest.raises(InsufficientFunds):
        await exchange.fetch_balance()
    assert client.calls == ["fetch_balance"]
    assert waits == []


async def test_a_placement_refused_before_processing_is_placed_again_without_a_lookup() -> None:
    client = ScriptedClient(fetch_order=[NOT_FOUND], create_order=[ccxt.RateLimitExceeded("429"), filled("c1")])
    client.headers_by_call = {2: {"Retry-After": "1"}}
    exchange, waits = adapter(client)
    state = await exchange.create_order(buy("c1"))
    assert state.status is OrderStatus.FILLED
    assert client.calls == ["fetch_order", "create_order", "create_order"]
    assert waits == [1.0]


async def test_a_placement_not_found_once_past_its_window_is_placed_again_at_most_three_times() -> None:
    client = ScriptedClient(fetch_order=[NOT_FOUND], create_order=[ccxt.NetworkError("reset")])
    exchange, waits = adapter(client)
    with pytest.raises(TemporaryError, match="unreachable"):
        await exchange.create_order(buy("c2"))
    assert client.calls == ["fetch_order"] + ["create_order", "fetch_order"] * 4
    assert waits == [0.5, 1.0, 2.0]


async def test_a_placement_whose_lookup_fails_is_never_placed_again() -> None:
    client = ScriptedClient(
        create_order=[ccxt.RequestTimeout("lost answer")], fetch_order=[NOT_FOUND, ccxt.NetworkError("down")]
    )  # found nothing first, then cannot look
    exchange, waits = adapter(client)
    with pytest.raises(TemporaryError, match="may have been placed"):
        await exchange.create_order(buy("c3"))
    assert client.calls == ["fetch_order", "create_order"] + ["fetch_order"] * 4
    assert waits == [0.5, 1.0, 2.0]  # the look-up's own retries; the placement is not tried again


async def test_a_placement_found_after_a_lost_answer_is_returned() -> None:
    client = ScriptedClient(create_order=[ccxt.RequestTimeout("lost answer")], fetch_order=[NOT_FOUND, filled("c4")])
    exchange, waits = adapter(client)
    state = await exchange.create_order(buy("c4"))
    assert state.client_order_id == "c4"
    assert client.calls == ["fetch_order", "create_order", "fetch_order"]
    assert waits == []


async def test_a_duplicate_answer_means_placed_and_is_looked_up() -> None:
    duplicate = ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}')
    client = ScriptedClient(create_order=[duplicate], fetch_order=[NOT_FOUND, filled("c5")])
    exchange, waits = adapter(client)
    state = await exchange.create_order(buy("c5"))
    assert state.client_order_id == "c5"
    assert client.calls == ["fetch_order", "create_order", "fetch_order"]
    assert waits == []


async def test_an_oco_refused_before_processing_is_placed_again_and_one_whose_lookup_fails_is_not() -> None:
    protection = ProtectionRequest(
        symbol="BTC/USDT",
        amount=Decimal("0.01"),
        stop_loss_client_order_id="sl",
        stop_loss_price=Decimal(38_000),
        take_profit_client_order_id="tp",
        take_profit_price=Decimal(42_000),
    )
    legs = {"orderReports": [filled("sl"), filled("tp")]}
    client = ScriptedClient(fetch_order=[NOT_FOUND], oco=[ccxt.DDoSProtection("418"), legs])
    exchange, waits = adapter(client)
    states = await exchange.create_protection(protection)
    assert [state.client_order_id for state in states] == ["sl", "tp"]
    assert client.calls == ["fetch_order", "fetch_order", "oco", "oco"]
    assert waits == [0.5]

    client = ScriptedClient(
        oco=[ccxt.RequestTimeout("lost answer")], fetch_order=[NOT_FOUND, NOT_FOUND, ccxt.NetworkError("down")]
    )
    exchange, waits = adapter(client)
    with pytest.raises(TemporaryError, match="may have been placed"):
        await exchange.create_protection(protection)
    assert client.calls.count("oco") == 1
