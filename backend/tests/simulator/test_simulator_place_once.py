"""The live adapter places an order at most once on the simulated Binance, whatever goes wrong
between the placement and its answer (invariant 2).

The chaos soak of 2026-12-05 placed `ab4712b4-kaf8e076a19-e` twice: the answer of the accepted
order was lost (RequestTimeout), the look-up by client id that followed was rate limited four times,
and the adapter took "could not look" for "not there" and placed the (filled, so reusable) client id
again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from simulators.binance.app import BinanceServer
from simulators.core.state import Simulator, WireOrder
from trading.errors import TemporaryError
from trading.live.exchange import CcxtConfig, CcxtExchange
from trading.orders import OrderRequest, OrderSide, OrderStatus, OrderType, ProtectionRequest

from .conftest import API_KEY, API_SECRET, Control


class Sleeps:
    """A sleep that remembers what it was asked to wait and waits at most `real` seconds."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.real = 0.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(min(seconds, self.real))


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def live(server: BinanceServer, sleeps: Sleeps) -> AsyncIterator[CcxtExchange]:
    """The gateway's adapter on the simulator, with a short timeout and no real backoff."""
    exchange = CcxtExchange(
        CcxtConfig(
            exchange_id="binance",
            label="'Sim' (#2, binance)",
            api_key=API_KEY,
            secret=API_SECRET,
            api_base_url=server.base_url,
            timeout_ms=500,
        ),
        sleep=sleeps,
    )
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


def market_buy(client_order_id: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.01"),
    )


def placed(simulator: Simulator, client_order_id: str) -> int:
    """How many orders the simulated account holds with this client id."""
    return sum(1 for order in simulator.accounts[API_KEY].orders.values() if order.client_order_id == client_order_id)


def arm_when_accepted(
    monkeypatch: pytest.MonkeyPatch, simulator: Simulator, client_order_id: str, **faults: int
) -> None:
    """Arm `faults` the moment the order is on the book, while its answer is still held."""
    account = simulator.accounts[API_KEY]
    remember = account.remember

    def remember_then_arm(wire: WireOrder) -> None:
        remember(wire)
        if wire.client_order_id == client_order_id:
            simulator.faults.arm(faults)

    monkeypatch.setattr(account, "remember", remember_then_arm)


async def test_lost_answer_then_rate_limited_lookup_never_places_twice(
    live: CcxtExchange, simulator: Simulator, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chaos run's sequence: accepted, answer held past the client's timeout, every look-up 429."""
    client_id = "ab4712b4-kaf8e076a19-e"
    await control.faults(timeout_after_accept=1, retry_after=0)
    arm_when_accepted(monkeypatch, simulator, client_id, rate_limit=4)
    with pytest.raises(TemporaryError):  # the outcome is unknown: the engine looks it up later
        await live.create_order(market_buy(client_id))
    assert placed(simulator, client_id) == 1

    # The engine's later try finds the order instead of placing it again.
    state = await live.create_order(market_buy(client_id))
    assert state.status is OrderStatus.FILLED
    assert placed(simulator, client_id) == 1


async def test_lost_answer_is_found_by_the_lookup(live: CcxtExchange, simulator: Simulator, control: Control) -> None:
    await control.faults(timeout_after_accept=1)
    state = await live.create_order(market_buy("held-answer"))
    assert state.status is OrderStatus.FILLED
    assert placed(simulator, "held-answer") == 1


async def test_dropped_connection_is_found_by_the_lookup(
    live: CcxtExchange, simulator: Simulator, control: Control
) -> None:
    await control.faults(timeout_after_accept=1, timeout_mode="drop")
    state = await live.create_order(market_buy("dropped-answer"))
    assert state.status is OrderStatus.FILLED
    assert placed(simulator, "dropped-answer") == 1


async def test_a_failed_request_is_placed_again_only_after_its_recv_window(
    live: CcxtExchange, simulator: Simulator, control: Control, sleeps: Sleeps
) -> None:
    """A 503 may hide an order Binance still executes within the request's recvWindow: "not found"
    counts only once that window has passed; then the order is placed, once."""
    await control.faults(status_5xx=1, fault_route="POST /api/v3/order")
    state = await live.create_order(market_buy("after-503"))
    assert state.status is OrderStatus.FILLED
    assert placed(simulator, "after-503") == 1
    assert sleeps.waits and max(sleeps.waits) >= 10.0  # ccxt's recvWindow for binance is 10 s


async def test_a_rate_limited_placement_is_placed_again_at_once(
    live: CcxtExchange, simulator: Simulator, control: Control, sleeps: Sleeps
) -> None:
    """A 429 is a refusal: Binance did not take the order, no need to wait out the recvWindow."""
    await control.faults(rate_limit=1, retry_after=1, fault_route="POST /api/v3/order")
    state = await live.create_order(market_buy("after-429"))
    assert state.status is OrderStatus.FILLED
    assert placed(simulator, "after-429") == 1
    assert max(sleeps.waits) < 10.0


async def test_an_order_still_on_its_way_when_the_client_gives_up_is_not_placed_again(
    live: CcxtExchange, simulator: Simulator, control: Control, sleeps: Sleeps
) -> None:
    """The placement is slower than the client's timeout (500 ms) and lands after the first
    look-up said "not found": the adapter waits out the request's recvWindow, finds it, and
    does not place a second order."""
    sleeps.real = 0.6  # long enough for the slow request to land (it has 800 ms of latency)
    await control.faults(latency_ms=800, fault_route="POST /api/v3/order")
    state = await live.create_order(market_buy("slow-request"))
    assert state.status is OrderStatus.FILLED
    await asyncio.sleep(0.5)  # anything else still on its way has landed by now
    assert placed(simulator, "slow-request") == 1


async def test_a_placement_left_by_a_killed_gateway_is_not_placed_again_by_the_next(
    live: CcxtExchange, simulator: Simulator, control: Control, sleeps: Sleeps
) -> None:
    """The gateway dies with a placement on its way (800 ms of latency); the next gateway claims
    the request, marks its outcome unknown, and waits out the window instead of placing again."""
    sleeps.real = 1.2  # long enough for the travelling request to land
    await control.faults(latency_ms=800, fault_route="POST /api/v3/order")
    dying = asyncio.ensure_future(live.create_order(market_buy("left-in-flight")))
    for _ in range(500):  # until it is sent, and still on its way
        if "POST /api/v3/order" in simulator.requests:
            break
        await asyncio.sleep(0.01)
    dying.cancel()  # the process is gone; its request is still travelling
    await control.faults(latency_ms=0)  # the next gateway's requests arrive at once
    live.placements_unknown(["left-in-flight"])
    state = await live.create_order(market_buy("left-in-flight"))
    assert state.status is OrderStatus.FILLED
    await asyncio.sleep(1.0)  # anything else still on its way has landed by now
    assert placed(simulator, "left-in-flight") == 1


async def test_a_lookup_that_keeps_failing_never_places(
    live: CcxtExchange, simulator: Simulator, control: Control
) -> None:
    """Before placing, the adapter looks the client id up; if it cannot, it does not place."""
    await control.faults(status_5xx=4)
    with pytest.raises(TemporaryError):
        await live.create_order(market_buy("cannot-look"))
    assert placed(simulator, "cannot-look") == 0


async def test_oco_with_a_lost_answer_then_rate_limited_lookup_is_placed_once(
    live: CcxtExchange, simulator: Simulator, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.create_order(market_buy("entry"))
    protection = ProtectionRequest(
        symbol="BTC/USDT",
        amount=Decimal("0.0099"),
        stop_loss_client_order_id="oco-sl",
        stop_loss_price=Decimal(38_000),
        take_profit_client_order_id="oco-tp",
        take_profit_price=Decimal(42_000),
    )
    await control.faults(timeout_after_accept=1, retry_after=0)
    arm_when_accepted(monkeypatch, simulator, "oco-sl", rate_limit=4)
    with pytest.raises(TemporaryError):
        await live.create_protection(protection)
    # The engine's later try finds both legs instead of being refused as a duplicate.
    legs = await live.create_protection(protection)
    assert sorted(leg.client_order_id for leg in legs) == ["oco-sl", "oco-tp"]
    assert placed(simulator, "oco-sl") == placed(simulator, "oco-tp") == 1
