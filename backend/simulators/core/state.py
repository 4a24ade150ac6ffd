"""A simulated exchange's memory: accounts (one PaperBook per API key), prices, faults, and what the
exchange reports about each order beyond what the matching engine keeps (its own type, time in
force, list id). No protocol here: each exchange's package turns this state into its API.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from simulators.core.faults import Faults
from trading.markets import Market
from trading.orders import OrderStatus
from trading.paper.book import PaperBook, PaperOrder
from trading.paper.markets import PAPER_MARKETS, TAKER_FEE


class UnknownSymbol(LookupError):
    """A symbol the simulator has no market for; each protocol answers it in its own words."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def new_key() -> str:
    """A made-up API key or secret: 64 letters and digits, as Binance's."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class AccountSpec:
    """One API key of the simulator, with the balances it starts from."""

    api_key: str
    api_secret: str
    balances: Mapping[str, Decimal]
    fee_rate: Decimal = TAKER_FEE


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulator starts with, and returns to on `POST /_sim/reset`; prices by market id (BTCUSDT)."""

    accounts: tuple[AccountSpec, ...] = ()
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    markets: Mapping[str, Market] = field(default_factory=lambda: PAPER_MARKETS)


@dataclass
class WireOrder:
    """What the exchange reports about an order that the engine does not keep, in the exchange's words."""

    order_id: int
    symbol: str  # market id: BTCUSDT
    client_order_id: str
    side: str  # as the exchange writes it: BUY / SELL on Binance
    type: str  # the exchange's type: MARKET, LIMIT, STOP_LOSS_LIMIT, ... on Binance
    time_in_force: str
    price: Decimal  # 0 when the order has none
    stop_price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time_ms: int
    order_list_id: int = -1
    expired: bool = False  # ended without the client cancelling it (IOC, OCO twin): EXPIRED, not CANCELED


@dataclass
class OrderList:
    """An OCO: two orders of which a fill of one expires the other."""

    order_list_id: int
    list_client_order_id: str
    symbol: str
    order_ids: tuple[int, int]  # below (stop-loss) first, as Binance lists a sell OCO
    time_ms: int


@dataclass
class PriceStats:
    """The 24h ticker of a symbol, counted since the first price the simulator got."""

    last: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal
    open_ms: int
    updated_ms: int
    count: int = 1

    def update(self, *, last: Decimal, low: Decimal, high: Decimal, now_ms: int) -> None:
        self.prev_close = self.last
        self.last, self.updated_ms, self.count = last, now_ms, self.count + 1
        self.high, self.low = max(self.high, high), min(self.low, low)


class SimAccount:
    """One API key: its secret, its PaperBook and the exchange's view of its orders and order lists."""

    def __init__(self, spec: AccountSpec) -> None:
        self.api_key = spec.api_key
        self.api_secret = spec.api_secret
        self.book = PaperBook(balances=dict(spec.balances), fee_rate=spec.fee_rate)
        self.orders: dict[int, WireOrder] = {}
        self.lists: dict[int, OrderList] = {}
        self._latest_by_client: dict[str, int] = {}
        self._list_by_client: dict[str, int] = {}
        self._placements = 0

    def engine_client_id(self, client_order_id: str) -> str:
        """A fresh engine id per placement: exchanges such as Binance reuse client ids of finished orders,
        the engine never does."""
        self._placements += 1
        return f"{client_order_id}#{self._placements}"

    def next_list_id(self) -> int:
        return len(self.lists) + 1

    def remember(self, wire: WireOrder) -> None:
        self.orders[wire.order_id] = wire
        self._latest_by_client[wire.client_order_id] = wire.order_id

    def remember_list(self, order_list: OrderList) -> None:
        self.lists[order_list.order_list_id] = order_list
        self._list_by_client[order_list.list_client_order_id] = order_list.order_list_id

    def find(self, *, order_id: int | None, client_order_id: str | None) -> WireOrder | None:
        """By order id, else the latest order with this client id (as Binance's origClientOrderId)."""
        if order_id is not None:
            return self.orders.get(order_id)
        if client_order_id is not None:
            found = self._latest_by_client.get(client_order_id)
            return None if found is None else self.orders.get(found)
        return None

    def find_list(self, *, order_list_id: int | None, list_client_order_id: str | None) -> OrderList | None:
        if order_list_id is None and list_client_order_id is not None:
            order_list_id = self._list_by_client.get(list_client_order_id)
        return None if order_list_id is None else self.lists.get(order_list_id)

    def engine(self, wire: WireOrder) -> PaperOrder:
        order = self.book.find_order(order_id=str(wire.order_id))
        if order is None:  # the simulator never prunes the book
            raise RuntimeError(f"order {wire.order_id} is missing from the paper book")
        return order

    def is_open(self, wire: WireOrder) -> bool:
        return self.engine(wire).is_open


class Simulator:
    """Everything the simulated exchange knows; rebuilt from its config by `reset`."""

    def __init__(self, config: SimulatorConfig, *, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.config = config
        self.clock = clock
        self.markets_by_id = {market.id: market for market in config.markets.values()}
        self.accounts: dict[str, SimAccount] = {}
        self.prices: dict[str, PriceStats] = {}
        self.faults = Faults()
        self.requests: deque[str] = deque(maxlen=1000)  # "GET /api/v3/time", newest last: what clients called
        self.stopping = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Back to the config: its accounts with their balances and no orders, its prices, no faults."""
        self.accounts = {spec.api_key: SimAccount(spec) for spec in self.config.accounts}
        self.prices = {}
        self.faults = Faults()
        self.requests.clear()
        for symbol, price in self.config.prices.items():
            self.price_set(symbol, last=price)

    def now_ms(self) -> int:
        return self.clock()

    def account_add(self, spec: AccountSpec) -> SimAccount:
        """A fresh account for this key (replacing one with the same key)."""
        account = SimAccount(spec)
        self.accounts[spec.api_key] = account
        return account

    def market(self, symbol: str) -> Market:
        market = self.markets_by_id.get(symbol)
        if market is None:
            raise UnknownSymbol(f"Invalid symbol: the simulator has no market {symbol!r}")
        return market

    def last_price(self, symbol: str) -> Decimal | None:
        stats = self.prices.get(symbol)
        return None if stats is None else stats.last

    def price_set(
        self, symbol: str, *, last: Decimal, low: Decimal | None = None, high: Decimal | None = None
    ) -> list[tuple[SimAccount, WireOrder]]:
        """Record a candle and run every account's matching engine on it; returns the orders that changed."""
        market = self.market(symbol)
        if last <= 0:
            raise ValueError(f"a price must be above 0, not {last}")
        low = last if low is None else min(low, last)
        high = last if high is None else max(high, last)
        now = self.now_ms()
        stats = self.prices.get(symbol)
        if stats is None:
            self.prices[symbol] = PriceStats(last, last, high, low, last, open_ms=now, updated_ms=now)
        else:
            stats.update(last=last, low=low, high=high, now_ms=now)
        changed: list[tuple[SimAccount, WireOrder]] = []
        for account in self.accounts.values():
            for state in account.book.price_update(market.symbol, last=last, low=low, high=high, now_ms=now):
                wire = account.orders[int(state.id)]
                wire.expired = wire.expired or state.status is OrderStatus.CANCELED  # an OCO twin of a fill
                changed.append((account, wire))
        return changed

    def all_orders(self) -> Iterator[tuple[SimAccount, WireOrder]]:
        for account in self.accounts.values():
            for order_id in sorted(account.orders):
                yield account, account.orders[order_id]
