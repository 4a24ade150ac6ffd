"""The paper matching engine for one paper account: balances, resting orders and their fills.

Pure and synchronous: prices come in through `price_update`, the clock through `now_ms`, and
`take_changes` hands what changed to the caller to persist. Fees are charged in the quote
currency at `fee_rate` on every fill. Resting orders reserve ("lock") funds: a buy locks
amount x price x (1 + fee_rate) quote, a sell locks its base amount; the two orders of a
stop-loss / take-profit pair (one `oco_group`) share one lock. Balances are kept as totals and
the locks are derived from the open orders, so they can never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from trading.errors import InsufficientFunds, OrderInvalid, OrderNotFound
from trading.markets import Market, order_check_limits
from trading.numbers import decimal_text, money_text
from trading.orders import Balance, OrderRequest, OrderSide, OrderState, OrderStatus, OrderType, ProtectionRequest
from trading.paper.orders import PaperOrder, PaperRecord
from trading.paper.rules import check_not_triggered, check_request, protection_legs, required, trigger_price

BalanceRecords = dict[str, dict[str, str]]

__all__ = ["BalanceRecords", "PaperBook", "PaperOrder", "PaperRecord"]


class PaperBook:
    """One paper account. `balances` are totals per currency (free + locked); locks follow from `orders`."""

    def __init__(
        self,
        *,
        balances: dict[str, Decimal],
        orders: Iterable[PaperOrder] = (),
        fee_rate: Decimal,
        next_order_id: int = 1,
    ) -> None:
        self.fee_rate = fee_rate
        self._totals: dict[str, Decimal] = dict(balances)
        self._orders: dict[str, PaperOrder] = {}
        self._by_client: dict[str, PaperOrder] = {}
        self._open: dict[str, PaperOrder] = {}
        self._changed: dict[str, PaperOrder] = {}
        self._last: dict[str, Decimal] = {}
        self._locks: dict[str, Decimal] | None = None  # derived from the open orders; None: to compute
        for order in orders:
            self._remember(order)
        known_ids = (int(order_id) for order_id in self._orders if order_id.isdigit())
        self._next_id = max(next_order_id, 1 + max(known_ids, default=0))

    @classmethod
    def new(cls, initial_quote: Decimal, fee_rate: Decimal, *, quote: str = "USDT") -> PaperBook:
        """A fresh account holding `initial_quote` of the quote currency and nothing else."""
        return cls(balances={quote: initial_quote}, fee_rate=fee_rate)

    @classmethod
    def restore(
        cls,
        *,
        balances: Mapping[str, Mapping[str, str]],
        orders: Iterable[PaperOrder],
        fee_rate: Decimal,
        next_order_id: int = 1,
    ) -> PaperBook:
        """A book from what `take_changes` handed out: the balance records' totals and the open orders.

        Pass `next_order_id` above every id ever stored, pruned orders included.
        """
        totals = {currency: Decimal(record["total"]) for currency, record in balances.items()}
        return cls(balances=totals, orders=orders, fee_rate=fee_rate, next_order_id=next_order_id)

    @property
    def next_order_id(self) -> int:
        return self._next_id

    # Reading

    def find_order(self, *, order_id: str | None = None, client_order_id: str | None = None) -> PaperOrder | None:
        """An order still in memory, by id or else by client order id."""
        if order_id is not None:
            return self._orders.get(order_id)
        if client_order_id is not None:
            return self._by_client.get(client_order_id)
        return None

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [order.state() for order in _by_id(self._open.values()) if symbol is None or order.symbol == symbol]

    def balance(self) -> Balance:
        """Free and total per currency; free is the total less what open orders lock."""
        return Balance(free={c: self.free(c) for c in self._totals}, total=dict(self._totals))

    def free(self, currency: str) -> Decimal:
        return self._totals.get(currency, Decimal(0)) - self._locked(currency)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price `price_update` recorded for the symbol."""
        return self._last.get(symbol)

    # Placing and cancelling

    def create_order(
        self, request: OrderRequest, *, market: Market, market_price: Decimal | None, now_ms: int
    ) -> OrderState:
        """Place an order; a known client order id returns that order unchanged (idempotent)."""
        existing = self._by_client.get(request.client_order_id)
        if existing is not None:
            return existing.state()
        check_request(request, market)
        if request.type is OrderType.MARKET:
            price = market_price if market_price is not None else request.reference_price
            if price is None:
                raise OrderInvalid(f"no price known for {market.symbol} yet: a market order needs a reference price")
            order_check_limits(amount=request.amount, price=price, market=market)
            return self._place_filled(request, market=market, price=price, now_ms=now_ms)
        if request.type is OrderType.LIMIT:
            limit = required(request.price, "a limit order needs a price")
            order_check_limits(amount=request.amount, price=limit, market=market)
            buy = request.side is OrderSide.BUY
            if market_price is not None and (market_price <= limit if buy else market_price >= limit):
                return self._place_filled(request, market=market, price=market_price, now_ms=now_ms)
            lock = request.amount * limit * (1 + self.fee_rate) if buy else request.amount
            return self._place_resting(request, market=market, lock=lock, now_ms=now_ms).state()
        trigger = trigger_price(request)
        order_check_limits(amount=request.amount, price=trigger, market=market)
        check_not_triggered(request.type, trigger=trigger, market_price=market_price, market=market)
        return self._place_resting(request, market=market, lock=request.amount, now_ms=now_ms).state()

    def create_protection(
        self, request: ProtectionRequest, *, market: Market, market_price: Decimal | None, now_ms: int
    ) -> list[OrderState]:
        """Place a stop-loss and/or take-profit selling `amount`; when both, they share one lock (OCO)."""
        legs = protection_legs(request, market)
        existing = [self._by_client[leg.client_order_id] for leg in legs if leg.client_order_id in self._by_client]
        if existing:
            return [order.state() for order in existing]
        for leg in legs:
            check_request(leg, market)
            trigger = trigger_price(leg)
            order_check_limits(amount=leg.amount, price=trigger, market=market)
            check_not_triggered(leg.type, trigger=trigger, market_price=market_price, market=market)
        self._check_free(market, OrderSide.SELL, request.amount)
        group = f"oco-{self._next_id}" if len(legs) == 2 else None
        orders = [self._new_order(leg, lock=leg.amount, now_ms=now_ms, oco_group=group) for leg in legs]
        return [order.state() for order in orders]

    def cancel_order(
        self, *, order_id: str | None = None, client_order_id: str | None = None, now_ms: int | None = None
    ) -> OrderState:
        """Cancel an open order and release its lock (an OCO twin keeps the shared lock); a final order is
        returned unchanged."""
        order = self.find_order(order_id=order_id, client_order_id=client_order_id)
        if order is None:
            wanted = f"id {order_id!r}" if order_id is not None else f"client order id {client_order_id!r}"
            raise OrderNotFound(f"the paper exchange has no order with {wanted}")
        if order.is_open:
            self._finish(order, OrderStatus.CANCELED, order.updated_ms if now_ms is None else now_ms)
        return order.state()

    # Prices

    def price_update(
        self, symbol: str, *, last: Decimal, low: Decimal | None = None, high: Decimal | None = None, now_ms: int
    ) -> list[OrderState]:
        """Record the last price and fill the resting orders the candle's low/high crossed.

        Returns every order whose state changed: fills, and the OCO twins they cancelled. When a
        stop and its take-profit twin are both crossed in one candle, the stop wins (conservative).
        """
        low = min(last if low is None else low, last)
        high = max(last if high is None else high, last)
        self._last[symbol] = last
        changed: list[PaperOrder] = []
        resting = [order for order in self._open.values() if order.symbol == symbol]
        for order in sorted(resting, key=lambda o: (o.type is not OrderType.STOP_MARKET, _id_key(o))):
            fill_price = _crossed_at(order, low=low, high=high) if order.is_open else None
            if fill_price is not None:
                changed.extend(self._fill(order, fill_price, now_ms))
        return [order.state() for order in changed]

    # Persistence

    @property
    def has_changes(self) -> bool:
        """Whether anything changed since the last `take_changes` (balances move only with orders)."""
        return bool(self._changed)

    def take_changes(self) -> tuple[BalanceRecords, list[PaperOrder]]:
        """Every balance (free, locked, total as strings) and the orders changed since the last call."""
        locks = self._all_locks()
        balances = {
            currency: {
                "free": decimal_text(total - locks.get(currency, Decimal(0))),
                "locked": decimal_text(locks.get(currency, Decimal(0))),
                "total": decimal_text(total),
            }
            for currency, total in sorted(self._totals.items())
        }
        orders = _by_id(self._changed.values())
        self._changed.clear()
        return balances, orders

    def restore_changes(self, orders: Iterable[PaperOrder]) -> None:
        """Mark orders as changed again, after their save failed, so the next `take_changes` retries them."""
        for order in orders:
            self._changed[order.id] = order

    def prune_final_orders(self, keep: int) -> int:
        """Forget all but the `keep` newest final orders already handed out; returns how many were forgotten."""
        final = [o for o in self._orders.values() if not o.is_open and o.id not in self._changed]
        final.sort(key=lambda o: (o.updated_ms, _id_key(o)), reverse=True)
        for order in final[max(keep, 0) :]:
            del self._orders[order.id]
            if self._by_client.get(order.client_order_id) is order:
                del self._by_client[order.client_order_id]
        return max(len(final) - max(keep, 0), 0)

    # Internals

    def _remember(self, order: PaperOrder) -> None:
        self._orders[order.id] = order
        self._by_client[order.client_order_id] = order
        if order.is_open:
            self._open[order.id] = order
            self._locks = None

    def _all_locks(self) -> dict[str, Decimal]:
        """What the open orders reserve, per currency; an OCO group counts once. Computed again
        after the open orders change (`_remember`, `_finish`), else kept."""
        if self._locks is None:
            self._locks = self._locks_compute()
        return self._locks

    def _locks_compute(self) -> dict[str, Decimal]:
        by_group: dict[tuple[str, str], Decimal] = {}
        for order in self._open.values():
            key = (order.locked_currency, order.oco_group or f"order-{order.id}")
            by_group[key] = max(by_group.get(key, Decimal(0)), order.locked)
        locks: dict[str, Decimal] = {}
        for (currency, _group), amount in by_group.items():
            locks[currency] = locks.get(currency, Decimal(0)) + amount
        return locks

    def _locked(self, currency: str) -> Decimal:
        """What the open orders reserve of a currency; an OCO group counts once."""
        return self._all_locks().get(currency, Decimal(0))

    def _check_free(self, market: Market, side: OrderSide, need: Decimal) -> None:
        """Buys spend the quote, sells the base; quote amounts read as money (5005.00), base ones as is."""
        currency, text = (market.quote, money_text) if side is OrderSide.BUY else (market.base, decimal_text)
        free = self.free(currency)
        if free < need:
            raise InsufficientFunds(f"insufficient balance: need {text(need)} {currency}, free {text(free)} {currency}")

    def _new_order(
        self, request: OrderRequest, *, lock: Decimal, now_ms: int, oco_group: str | None = None
    ) -> PaperOrder:
        order = PaperOrder(
            id=str(self._next_id),
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            amount=request.amount,
            price=request.price,
            stop_price=request.stop_price,
            created_ms=now_ms,
            updated_ms=now_ms,
            oco_group=oco_group,
            locked=lock,
        )
        self._next_id += 1
        self._remember(order)
        self._changed[order.id] = order
        return order

    def _place_resting(self, request: OrderRequest, *, market: Market, lock: Decimal, now_ms: int) -> PaperOrder:
        self._check_free(market, request.side, lock)
        return self._new_order(request, lock=lock, now_ms=now_ms)

    def _place_filled(self, request: OrderRequest, *, market: Market, price: Decimal, now_ms: int) -> OrderState:
        buy = request.side is OrderSide.BUY
        self._check_free(market, request.side, request.amount * price * (1 + self.fee_rate) if buy else request.amount)
        order = self._new_order(request, lock=Decimal(0), now_ms=now_ms)
        self._fill(order, price, now_ms)
        return order.state()

    def _fill(self, order: PaperOrder, price: Decimal, now_ms: int) -> list[PaperOrder]:
        """Fill the whole order at `price`, move the money, cancel its OCO twins; returns the changed orders."""
        cost = order.amount * price
        fee = cost * self.fee_rate
        if order.side is OrderSide.BUY:
            self._add(order.quote, -(cost + fee))
            self._add(order.base, order.amount)
        else:
            self._add(order.base, -order.amount)
            self._add(order.quote, cost - fee)
        order.filled, order.average, order.fee = order.amount, price, fee
        self._finish(order, OrderStatus.FILLED, now_ms)
        twins = [o for o in self._open.values() if order.oco_group is not None and o.oco_group == order.oco_group]
        for twin in twins:
            self._finish(twin, OrderStatus.CANCELED, now_ms)
        return [order, *twins]

    def _finish(self, order: PaperOrder, status: OrderStatus, now_ms: int) -> None:
        order.status, order.updated_ms, order.locked = status, now_ms, Decimal(0)
        self._open.pop(order.id, None)
        self._locks = None
        self._changed[order.id] = order

    def _add(self, currency: str, amount: Decimal) -> None:
        self._totals[currency] = self._totals.get(currency, Decimal(0)) + amount


def _by_id(orders: Iterable[PaperOrder]) -> list[PaperOrder]:
    return sorted(orders, key=_id_key)


def _id_key(order: PaperOrder) -> int:
    return int(order.id) if order.id.isdigit() else 0


def _crossed_at(order: PaperOrder, *, low: Decimal, high: Decimal) -> Decimal | None:
    """The fill price if the candle crossed the order, else None."""
    if order.type is OrderType.STOP_MARKET:
        stop = order.stop_price
        return stop if stop is not None and low <= stop else None
    price = order.price
    if price is None:
        return None
    if order.side is OrderSide.BUY:
        return price if low <= price else None
    return price if high >= price else None
