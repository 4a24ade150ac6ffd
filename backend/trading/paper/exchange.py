"""The paper exchange adapter: one paper account's PaperBook behind the `Exchange` interface.

Prices come from a PriceBoard shared by every paper account of the process; each call that
changes the book saves the changes through a PaperStore before it returns, so an answer the
caller got is never lost by a restart, even a SIGKILL the next instant. Several calls can run
as one unit of work (`unit_of_work`): their changes are saved once, together, when the unit
ends, and the caller holds their answers back until then. A save that fails undoes the
change: the book is read back from the store before it is used again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.errors import ExchangeRejected, OrderNotFound, TemporaryError
from trading.markets import Market
from trading.orders import Balance, OrderRequest, OrderState, ProtectionRequest
from trading.paper.book import BalanceRecords, PaperBook
from trading.paper.markets import PAPER_MARKETS
from trading.paper.orders import PaperOrder, PaperRecord


@dataclass(frozen=True)
class Candle:
    """The latest price of a symbol, with the low and high of the candle it closed."""

    last: Decimal
    low: Decimal
    high: Decimal


class PriceBoard:
    """Last, low and high price per symbol, shared by all paper accounts of a process."""

    def __init__(self) -> None:
        self._candles: dict[str, Candle] = {}

    def update(self, symbol: str, *, last: Decimal, low: Decimal | None = None, high: Decimal | None = None) -> None:
        low = min(last if low is None else low, last)
        high = max(last if high is None else high, last)
        self._candles[symbol] = Candle(last=last, low=low, high=high)

    def last(self, symbol: str) -> Decimal | None:
        candle = self._candles.get(symbol)
        return None if candle is None else candle.last

    def candle(self, symbol: str) -> Candle | None:
        return self._candles.get(symbol)


class PaperStore(Protocol):
    """Where paper accounts persist their balances and orders (a database in the gateway)."""

    async def save(self, account_key: str, balances: BalanceRecords, orders: list[PaperOrder]) -> None:
        """Replace the account's balances and insert or update these orders (by id)."""
        ...

    async def find_order(
        self, account_key: str, *, order_id: str | None, client_order_id: str | None
    ) -> PaperOrder | None:
        """An order the book may have pruned from memory."""
        ...

    async def load(self, account_key: str, *, fee_rate: Decimal) -> PaperBook:
        """The account's book as last saved (to undo changes whose save failed)."""
        ...


class InMemoryPaperStore:
    """A PaperStore in a dict, for tests and the embedded demo; keeps records, not live objects."""

    def __init__(self) -> None:
        self.balances: dict[str, BalanceRecords] = {}
        self.orders: dict[str, dict[str, PaperRecord]] = {}
        self.saves = 0

    async def save(self, account_key: str, balances: BalanceRecords, orders: list[PaperOrder]) -> None:
        self.saves += 1
        self.balances[account_key] = {currency: dict(record) for currency, record in balances.items()}
        stored = self.orders.setdefault(account_key, {})
        for order in orders:
            stored[order.id] = order.to_record()

    async def find_order(
        self, account_key: str, *, order_id: str | None, client_order_id: str | None
    ) -> PaperOrder | None:
        for record in self.orders.get(account_key, {}).values():
            if (order_id is not None and record["id"] == order_id) or (
                order_id is None and client_order_id is not None and record["client_order_id"] == client_order_id
            ):
                return PaperOrder.from_record(record)
        return None

    async def load(self, account_key: str, *, fee_rate: Decimal) -> PaperBook:
        return self.book(account_key, fee_rate=fee_rate)

    def book(self, account_key: str, *, fee_rate: Decimal) -> PaperBook:
        """The account's book as saved: its balances, its open orders, ids continuing after the last one."""
        records = self.orders.get(account_key, {})
        orders = [PaperOrder.from_record(record) for record in records.values()]
        next_id = 1 + max((int(order.id) for order in orders if order.id.isdigit()), default=0)
        return PaperBook.restore(
            balances=self.balances.get(account_key, {}),
            orders=[order for order in orders if order.is_open],
            fee_rate=fee_rate,
            next_order_id=next_id,
        )


logger = logging.getLogger(__name__)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class PaperExchange:
    """One paper account as an `Exchange`: orders match against the PriceBoard's prices."""

    def __init__(
        self,
        *,
        account_key: str,
        book: PaperBook,
        prices: PriceBoard,
        store: PaperStore,
        markets: Mapping[str, Market] = PAPER_MARKETS,
        clock: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self.account_key = account_key
        self._stale = False  # a save failed: the book must be read back from the store
        self.book = book
        self.prices = prices
        self.store = store
        self.markets = markets
        self._clock = clock
        # One change-and-save at a time, so saves reach the store in the order the book changed.
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None  # the task holding the lock
        self._in_unit = False  # the owner runs a unit of work: its calls' saves wait for the unit's end

    async def load_markets(self) -> Mapping[str, Market]:
        return self.markets

    async def fetch_balance(self) -> Balance:
        await self._fresh_read()
        return self.book.balance()

    async def create_order(self, request: OrderRequest) -> OrderState:
        """Place an order; a client order id seen before (even pruned from memory) returns that order."""
        market = self._market(request.symbol)
        async with self._changing():
            known = await self._stored(order_id=None, client_order_id=request.client_order_id)
            if known is not None:
                return known.state()
            state = self.book.create_order(
                request, market=market, market_price=self.prices.last(request.symbol), now_ms=self._clock()
            )
        return state

    async def create_protection(self, request: ProtectionRequest) -> list[OrderState]:
        market = self._market(request.symbol)
        async with self._changing():
            states = self.book.create_protection(
                request, market=market, market_price=self.prices.last(request.symbol), now_ms=self._clock()
            )
        return states

    async def cancel_order(
        self, *, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        async with self._changing():
            order = await self._order(symbol=symbol, order_id=order_id, client_order_id=client_order_id)
            if not order.is_open or self.book.find_order(order_id=order.id) is None:
                return order.state()
            return self.book.cancel_order(order_id=order.id, now_ms=self._clock())

    async def fetch_order(
        self, *, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        await self._fresh_read()
        order = await self._order(symbol=symbol, order_id=order_id, client_order_id=client_order_id)
        return order.state()

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        await self._fresh_read()
        return self.book.open_orders(symbol)

    async def fetch_ticker(self, symbol: str) -> Decimal:
        """The last price the PriceBoard knows; OrderNotFound until the first price arrives."""
        last = self.prices.last(symbol)
        if last is None:
            raise OrderNotFound(f"no price known yet for {symbol} on the paper exchange")
        return last

    def placements_unknown(self, client_order_ids: Iterable[str]) -> None:
        """Nothing to do: the paper book answers in-process, so no placement outlives a restart."""

    async def close(self) -> None:
        """Nothing to write: every change was saved before its call returned."""

    async def on_price(
        self, symbol: str, *, last: Decimal, low: Decimal | None = None, high: Decimal | None = None
    ) -> list[OrderState]:
        """Record a candle on the PriceBoard, fill the resting orders it crossed, save; returns changed orders."""
        self.prices.update(symbol, last=last, low=low, high=high)
        async with self._changing():
            states = self.book.price_update(symbol, last=last, low=low, high=high, now_ms=self._clock())
        return states

    def _market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise ExchangeRejected(f"the paper exchange has no market {symbol}")
        return market

    async def _stored(self, *, order_id: str | None, client_order_id: str | None) -> PaperOrder | None:
        """An order from the book, else from the store (orders pruned from memory)."""
        order = self.book.find_order(order_id=order_id, client_order_id=client_order_id)
        if order is None and (order_id is not None or client_order_id is not None):
            order = await self.store.find_order(self.account_key, order_id=order_id, client_order_id=client_order_id)
        return order

    async def _order(self, *, symbol: str, order_id: str | None, client_order_id: str | None) -> PaperOrder:
        order = await self._stored(order_id=order_id, client_order_id=client_order_id)
        if order is None or order.symbol != symbol:
            wanted = f"id {order_id!r}" if order_id is not None else f"client order id {client_order_id!r}"
            raise OrderNotFound(f"the paper exchange has no {symbol} order with {wanted}")
        return order

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """Run the calls made inside as one unit: nobody else changes or reads the book meanwhile,
        and their changes are saved once, together, when the block ends (also when it raises).

        The caller must hold back every answer a call gave inside the block until the block has
        ended without error: a failed save raises here and undoes every change of the unit.
        """
        async with self._locked():
            self._in_unit = True
            try:
                yield
            finally:
                self._in_unit = False
                await self._persist()

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """The lock, with the book read back first if a save failed."""
        async with self._lock:
            self._owner = asyncio.current_task()
            try:
                await self._fresh()
                yield
            finally:
                self._owner = None

    @asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """Around a change: saved before the call returns, or at the end of the caller's unit of work."""
        if self._in_unit and self._owner is asyncio.current_task():
            yield
            return
        async with self._locked():
            try:
                yield
            finally:
                await self._persist()

    async def _persist(self) -> None:
        """Save what the last change did before anyone hears of it; one save per call, only
        the orders that changed. A failed save undoes the change (the book is read back)."""
        if not self.book.has_changes:
            return
        balances, orders = self.book.take_changes()
        try:
            await self.store.save(self.account_key, balances, orders)
        except BaseException:
            self._stale = True
            raise

    async def _fresh_read(self) -> None:
        """Before a read: wait for a change in progress elsewhere (it may not be saved yet) and
        for the book to be read back after a failed save."""
        if self._owner is asyncio.current_task():
            return
        if self._stale or self._lock.locked():
            async with self._locked():
                pass

    async def _fresh(self) -> None:
        """Read the book back from the store after a failed save, so that nothing unsaved is
        ever answered; while the store cannot be read, every call fails as temporary."""
        if not self._stale:
            return
        try:
            self.book = await self.store.load(self.account_key, fee_rate=self.book.fee_rate)
        except Exception as exc:
            raise TemporaryError(f"the paper account cannot be read back after a failed save: {exc}") from exc
        self._stale = False
        logger.warning("paper account %s: read back from the store after a failed save", self.account_key)
