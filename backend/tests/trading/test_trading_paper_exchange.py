"""The paper exchange adapter: the Exchange interface, persistence after each call, the reference scenario."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from trading.errors import ExchangeRejected, OrderNotFound
from trading.exchange import Exchange
from trading.orders import OrderKind, OrderRequest, OrderSide, OrderStatus, OrderType, ProtectionRequest
from trading.paper.book import PaperBook, PaperOrder
from trading.paper.exchange import InMemoryPaperStore, PaperExchange, PriceBoard
from trading.paper.markets import PAPER_MARKETS
from trading.positions import Position, position_apply_buy, position_apply_sell
from trading.sizing import buy_amount, sell_amount

D = Decimal
NOW = 1_700_000_000_000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.ms = NOW

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def store() -> InMemoryPaperStore:
    return InMemoryPaperStore()


@pytest.fixture
def prices() -> PriceBoard:
    return PriceBoard()


@pytest.fixture
def paper(store: InMemoryPaperStore, prices: PriceBoard) -> PaperExchange:
    book = PaperBook.new(D(10_000), D("0.001"))
    return PaperExchange(account_key="broker-1", book=book, prices=prices, store=store, clock=Clock())


def market_buy(client_id: str, amount: Decimal) -> OrderRequest:
    return OrderRequest(client_id, "BTC/USDT", OrderSide.BUY, OrderType.MARKET, amount)


def test_paper_exchange_implements_the_exchange_interface(paper: PaperExchange) -> None:
    exchange: Exchange = paper
    assert exchange is paper


@pytest.mark.asyncio
async def test_reference_scenario_buy_half_protect_then_sell_all_at_44000(
    paper: PaperExchange, prices: PriceBoard
) -> None:
    btc = (await paper.load_markets())["BTC/USDT"]
    prices.update("BTC/USDT", last=D(40000))
    free = (await paper.fetch_balance()).free_of("USDT")
    amount = buy_amount(free_quote=free, pour_cent=D(50), price=D(40000), market=btc)
    entry = await paper.create_order(market_buy(f"a1-{OrderKind.ENTRY}", amount))
    position = position_apply_buy(Position(), amount=entry.filled, price=entry.average or D(0), fee=entry.fee)
    assert position.quantity == D("0.12487")

    protection = ProtectionRequest("BTC/USDT", position.quantity, "a1-sl", D(38000), "a1-tp", D(46000))
    stop, take = await paper.create_protection(protection)
    assert {o.status for o in await paper.fetch_open_orders("BTC/USDT")} == {OrderStatus.OPEN}

    await paper.on_price("BTC/USDT", last=D(44000), low=D(43800), high=D(44100))
    for order in (stop, take):
        await paper.cancel_order(symbol="BTC/USDT", order_id=order.id)
    to_sell = sell_amount(position_quantity=position.quantity, pour_cent=D(100), price=D(44000), market=btc)
    exit_ = await paper.create_order(OrderRequest("a2-exit", "BTC/USDT", OrderSide.SELL, OrderType.MARKET, to_sell))
    closed = position_apply_sell(position, amount=exit_.filled, price=exit_.average or D(0), fee=exit_.fee)

    assert closed.is_flat
    assert closed.realized_pnl == D("499.48") - D("4.9948") - D("5.49428")
    assert (await paper.fetch_balance()).free_of("USDT") == D(10_000) + closed.realized_pnl


@pytest.mark.asyncio
async def test_every_change_is_saved_before_the_call_returns(paper: PaperExchange, store: InMemoryPaperStore) -> None:
    state = await paper.create_order(OrderRequest("c1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), D(30000)))
    assert store.orders["broker-1"][state.id]["status"] == "open"
    assert store.balances["broker-1"]["USDT"]["locked"] == "3003"
    await paper.cancel_order(symbol="BTC/USDT", client_order_id="c1")
    assert store.orders["broker-1"][state.id]["status"] == "canceled"
    assert store.balances["broker-1"]["USDT"]["free"] == "10000"


@pytest.mark.asyncio
async def test_resting_order_fills_on_a_price_and_the_fill_is_saved(
    paper: PaperExchange, store: InMemoryPaperStore
) -> None:
    state = await paper.create_order(OrderRequest("c1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), D(30000)))
    changed = await paper.on_price("BTC/USDT", last=D(30500), low=D(29900), high=D(30600))
    assert [s.status for s in changed] == [OrderStatus.FILLED]
    assert store.orders["broker-1"][state.id]["average"] == "30000"
    assert (await paper.fetch_ticker("BTC/USDT")) == D(30500)


@pytest.mark.asyncio
async def test_fetch_ticker_without_a_price_is_order_not_found(paper: PaperExchange) -> None:
    with pytest.raises(OrderNotFound, match="no price known yet for BTC/USDT"):
        await paper.fetch_ticker("BTC/USDT")


@pytest.mark.asyncio
async def test_order_on_an_unknown_market_is_rejected(paper: PaperExchange) -> None:
    with pytest.raises(ExchangeRejected, match="no market FOO/USDT"):
        await paper.create_order(OrderRequest("c1", "FOO/USDT", OrderSide.BUY, OrderType.MARKET, D(1)))


@pytest.mark.asyncio
async def test_fetch_order_by_client_id_and_not_found(paper: PaperExchange, prices: PriceBoard) -> None:
    prices.update("BTC/USDT", last=D(40000))
    placed = await paper.create_order(market_buy("c1", D("0.001")))
    assert await paper.fetch_order(symbol="BTC/USDT", client_order_id="c1") == placed
    with pytest.raises(OrderNotFound):
        await paper.fetch_order(symbol="BTC/USDT", client_order_id="nope")
    with pytest.raises(OrderNotFound):
        await paper.fetch_order(symbol="ETH/USDT", order_id=placed.id)


@pytest.mark.asyncio
async def test_pruned_orders_are_found_in_the_store_and_not_placed_twice(
    paper: PaperExchange, prices: PriceBoard
) -> None:
    prices.update("BTC/USDT", last=D(40000))
    placed = await paper.create_order(market_buy("c1", D("0.001")))
    paper.book.prune_final_orders(keep=0)
    assert paper.book.find_order(client_order_id="c1") is None
    assert (await paper.fetch_order(symbol="BTC/USDT", order_id=placed.id)).status is OrderStatus.FILLED
    again = await paper.create_order(market_buy("c1", D("0.001")))
    assert again.id == placed.id
    assert (await paper.fetch_balance()).free_of("BTC") == D("0.001")
    assert (await paper.cancel_order(symbol="BTC/USDT", client_order_id="c1")).status is OrderStatus.FILLED


@pytest.mark.asyncio
async def test_book_restored_from_the_store_continues_ids_and_keeps_locks(
    paper: PaperExchange, store: InMemoryPaperStore, prices: PriceBoard
) -> None:
    prices.update("BTC/USDT", last=D(40000))
    await paper.create_order(market_buy("c1", D("0.12487")))
    await paper.create_protection(ProtectionRequest("BTC/USDT", D("0.12487"), "sl", D(38000), "tp", D(46000)))
    restored = store.book("broker-1", fee_rate=D("0.001"))
    assert restored.balance() == await paper.fetch_balance()
    assert restored.next_order_id == 4
    assert restored.price_update("BTC/USDT", last=D(46000), now_ms=NOW)[1].status is OrderStatus.CANCELED


class FailingStore(InMemoryPaperStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    async def save(self, account_key: str, balances: dict[str, dict[str, str]], orders: list[PaperOrder]) -> None:
        if self.fail:
            raise ConnectionError("database down")
        await super().save(account_key, balances, orders)


@pytest.mark.asyncio
async def test_a_change_whose_save_failed_is_undone_and_never_answered(prices: PriceBoard) -> None:
    store = FailingStore()
    store.fail = False
    paper = PaperExchange(account_key="k", book=PaperBook.new(D(10_000), D("0.001")), prices=prices, store=store)
    prices.update("BTC/USDT", last=D(40000))
    await paper.create_order(market_buy("c1", D("0.001")))
    store.fail = True
    with pytest.raises(ConnectionError):
        await paper.create_order(market_buy("c2", D("0.001")))
    store.fail = False
    with pytest.raises(OrderNotFound):  # the book was read back: c2 never happened
        await paper.fetch_order(symbol="BTC/USDT", client_order_id="c2")
    assert (await paper.fetch_balance()).total["BTC"] == D("0.001")
    await paper.create_order(market_buy("c2", D("0.001")))
    assert sorted(str(r["client_order_id"]) for r in store.orders["k"].values()) == ["c1", "c2"]
    assert (await paper.fetch_balance()).total["BTC"] == D("0.002")


@pytest.mark.asyncio
async def test_a_call_that_changes_nothing_saves_nothing(paper: PaperExchange, store: InMemoryPaperStore) -> None:
    await paper.on_price("BTC/USDT", last=D(40000))
    await paper.fetch_balance()
    assert store.saves == 0


def test_paper_markets_are_the_default_markets(paper: PaperExchange) -> None:
    assert paper.markets is PAPER_MARKETS


@pytest.mark.asyncio
async def test_calls_in_a_unit_of_work_are_saved_once_when_it_ends(
    paper: PaperExchange, store: InMemoryPaperStore, prices: PriceBoard
) -> None:
    prices.update("BTC/USDT", last=D(40000))
    async with paper.unit_of_work():
        await paper.create_order(market_buy("c1", D("0.01")))
        await paper.create_protection(ProtectionRequest("BTC/USDT", D("0.01"), "sl", D(38000), "tp", D(46000)))
        await paper.cancel_order(symbol="BTC/USDT", client_order_id="tp")
        assert (await paper.fetch_balance()).free_of("BTC") == 0  # the unit sees its own changes
        assert store.saves == 0, "nothing is saved before the unit ends"
    assert store.saves == 1
    assert sorted(str(r["status"]) for r in store.orders["broker-1"].values()) == ["canceled", "filled", "open"]
    assert store.balances["broker-1"]["BTC"] == {"free": "0", "locked": "0.01", "total": "0.01"}


@pytest.mark.asyncio
async def test_a_unit_whose_save_failed_is_undone_as_a_whole(prices: PriceBoard) -> None:
    store = FailingStore()
    store.fail = False
    paper = PaperExchange(account_key="k", book=PaperBook.new(D(10_000), D("0.001")), prices=prices, store=store)
    prices.update("BTC/USDT", last=D(40000))
    await paper.create_order(market_buy("c1", D("0.001")))
    store.fail = True
    with pytest.raises(ConnectionError):
        async with paper.unit_of_work():
            await paper.create_order(market_buy("c2", D("0.001")))
            await paper.create_order(market_buy("c3", D("0.001")))
    store.fail = False
    for client_id in ("c2", "c3"):
        with pytest.raises(OrderNotFound):
            await paper.fetch_order(symbol="BTC/USDT", client_order_id=client_id)
    assert (await paper.fetch_balance()).total["BTC"] == D("0.001")


@pytest.mark.asyncio
async def test_a_read_from_elsewhere_waits_for_the_unit_to_be_saved(
    paper: PaperExchange, store: InMemoryPaperStore, prices: PriceBoard
) -> None:
    prices.update("BTC/USDT", last=D(40000))
    seen: list[tuple[int, Decimal]] = []

    async def reader() -> None:
        balance = await paper.fetch_balance()
        seen.append((store.saves, balance.total.get("BTC", D(0))))

    async with paper.unit_of_work():
        await paper.create_order(market_buy("c1", D("0.001")))
        task = asyncio.create_task(reader())
        await asyncio.sleep(0.01)
        assert not seen, "the read waits while the unit's change is unsaved"
    await task
    assert seen == [(1, D("0.001"))]
