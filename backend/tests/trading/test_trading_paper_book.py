"""The paper matching engine: market and limit orders, balances, locks, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import InsufficientFunds, OrderInvalid, OrderNotFound
from trading.markets import Market
from trading.orders import OrderRequest, OrderSide, OrderStatus, OrderType
from trading.paper.book import PaperBook, PaperOrder

D = Decimal
NOW = 1_700_000_000_000


def buy(client_id: str = "c1", amount: str = "0.12487", **fields: object) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_id,
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        amount=D(amount),
        **fields,  # type: ignore[arg-type]
    )


def sell(client_id: str = "s1", amount: str = "0.12487", **fields: object) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_id,
        symbol="BTC/USDT",
        side=OrderSide.SELL,
        type=OrderType.MARKET,
        amount=D(amount),
        **fields,  # type: ignore[arg-type]
    )


def test_market_buy_fills_at_the_market_price_and_charges_the_fee_in_quote(book: PaperBook, btc: Market) -> None:
    state = book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    assert state.status is OrderStatus.FILLED
    assert (state.filled, state.average) == (D("0.12487"), D(40000))
    assert state.fee == D("4.9948")
    assert state.fee_currency == "USDT"
    balance = book.balance()
    assert balance.free_of("BTC") == D("0.12487")
    assert balance.free_of("USDT") == D(10_000) - D("4994.8") - D("4.9948")


def test_market_order_without_market_price_fills_at_the_reference_price(book: PaperBook, btc: Market) -> None:
    state = book.create_order(buy(reference_price=D(39000)), market=btc, market_price=None, now_ms=NOW)
    assert state.average == D(39000)


def test_market_order_without_any_price_is_refused(book: PaperBook, btc: Market) -> None:
    with pytest.raises(OrderInvalid, match="no price known for BTC/USDT"):
        book.create_order(buy(), market=btc, market_price=None, now_ms=NOW)


def test_market_buy_beyond_the_free_balance_is_insufficient_funds_with_the_numbers(btc: Market) -> None:
    book = PaperBook.new(D(4000), D("0.001"))
    with pytest.raises(InsufficientFunds, match=r"insufficient balance: need 5005.00 USDT, free 4000.00 USDT"):
        book.create_order(buy(amount="0.125"), market=btc, market_price=D(40000), now_ms=NOW)
    assert book.balance().free_of("USDT") == D(4000)
    assert book.take_changes()[1] == []


def test_market_sell_needs_the_base_and_pays_cost_minus_fee(book: PaperBook, btc: Market) -> None:
    with pytest.raises(InsufficientFunds, match=r"need 0.12487 BTC, free 0 BTC"):
        book.create_order(sell(), market=btc, market_price=D(44000), now_ms=NOW)
    book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    usdt_before = book.balance().free_of("USDT")
    state = book.create_order(sell(), market=btc, market_price=D(44000), now_ms=NOW)
    assert state.fee == D("5.49428")
    assert book.balance().free_of("USDT") == usdt_before + D("5494.28") - D("5.49428")
    assert book.balance().free_of("BTC") == 0


def test_same_client_order_id_returns_the_first_order_unchanged(book: PaperBook, btc: Market) -> None:
    first = book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    again = book.create_order(buy(amount="0.2"), market=btc, market_price=D(30000), now_ms=NOW + 5)
    assert again == first
    assert book.balance().free_of("BTC") == D("0.12487")


def test_order_ids_are_sequential(book: PaperBook, btc: Market) -> None:
    ids = [book.create_order(buy(f"c{n}", "0.001"), market=btc, market_price=D(40000), now_ms=NOW).id for n in range(3)]
    assert ids == ["1", "2", "3"]


def test_unrounded_amount_is_refused(book: PaperBook, btc: Market) -> None:
    with pytest.raises(OrderInvalid, match=r"not a multiple of the amount step 0.00001"):
        book.create_order(buy(amount="0.123456"), market=btc, market_price=D(40000), now_ms=NOW)


def test_order_below_the_minimum_value_is_refused(book: PaperBook, btc: Market) -> None:
    with pytest.raises(OrderInvalid, match=r"order value 4.00 USDT is below the minimum 5 USDT"):
        book.create_order(buy(amount="0.0001"), market=btc, market_price=D(40000), now_ms=NOW)


def test_limit_buy_below_the_market_rests_and_locks_cost_and_fee(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(38000))
    state = book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    assert state.status is OrderStatus.OPEN
    balance = book.balance()
    assert balance.free_of("USDT") == D(10_000) - D("3803.8")
    assert balance.total["USDT"] == D(10_000)
    assert book.open_orders("BTC/USDT") == [state]


def test_limit_buy_at_or_above_the_market_fills_at_once_at_the_market_price(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(41000))
    state = book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    assert (state.status, state.average) == (OrderStatus.FILLED, D(40000))


def test_resting_limit_buy_fills_at_its_limit_when_the_low_reaches_it(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(38000))
    book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    assert book.price_update("BTC/USDT", last=D(39000), low=D("38000.01"), now_ms=NOW + 60_000) == []
    changed = book.price_update("BTC/USDT", last=D(39000), low=D(37900), high=D(39100), now_ms=NOW + 120_000)
    assert [(s.status, s.average, s.fee) for s in changed] == [(OrderStatus.FILLED, D(38000), D("3.8"))]
    assert book.balance().free_of("USDT") == D(10_000) - D("3803.8")
    assert book.balance().free_of("BTC") == D("0.1")


def test_limit_sell_rests_locks_base_and_fills_when_the_high_reaches_it(book: PaperBook, btc: Market) -> None:
    book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    request = OrderRequest("L2", "BTC/USDT", OrderSide.SELL, OrderType.LIMIT, D("0.12487"), price=D(45000))
    book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    assert book.balance().free_of("BTC") == 0
    with pytest.raises(InsufficientFunds):
        book.create_order(sell("s2", "0.001"), market=btc, market_price=D(40000), now_ms=NOW)
    changed = book.price_update("BTC/USDT", last=D(44000), high=D(45000), now_ms=NOW + 60_000)
    assert [(s.client_order_id, s.average) for s in changed] == [("L2", D(45000))]


def test_cancel_releases_the_lock(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(38000))
    book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    state = book.cancel_order(client_order_id="L1")
    assert state.status is OrderStatus.CANCELED
    assert book.balance().free_of("USDT") == D(10_000)
    assert book.open_orders() == []
    assert book.cancel_order(order_id=state.id) == state


def test_cancel_of_an_unknown_order_is_order_not_found(book: PaperBook) -> None:
    with pytest.raises(OrderNotFound, match="no order with id '99'"):
        book.cancel_order(order_id="99")


def test_take_changes_hands_out_balances_and_changed_orders_once(book: PaperBook, btc: Market) -> None:
    book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    balances, orders = book.take_changes()
    assert balances["BTC"] == {"free": "0.12487", "locked": "0", "total": "0.12487"}
    assert balances["USDT"]["total"] == "5000.2052"
    assert [order.client_order_id for order in orders] == ["c1"]
    assert book.take_changes()[1] == []


def test_a_book_restored_from_its_records_has_the_same_balances_and_locks(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(38000))
    book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    balances, orders = book.take_changes()
    records = [order.to_record() for order in orders]
    restored = PaperBook.restore(
        balances=balances, orders=[PaperOrder.from_record(r) for r in records], fee_rate=D("0.001")
    )
    assert restored.balance() == book.balance()
    assert restored.next_order_id == 2
    assert restored.open_orders() == book.open_orders()


def test_paper_order_record_round_trips(book: PaperBook, btc: Market) -> None:
    book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    order = book.find_order(client_order_id="c1")
    assert order is not None
    record = order.to_record()
    assert record["amount"] == "0.12487" and record["created_ms"] == NOW
    assert PaperOrder.from_record(record) == order


def test_pruned_final_orders_are_forgotten_but_open_ones_kept(book: PaperBook, btc: Market) -> None:
    for n in range(3):
        book.create_order(buy(f"c{n}", "0.001"), market=btc, market_price=D(40000), now_ms=NOW + n)
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), price=D(38000))
    book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    assert book.prune_final_orders(keep=1) == 0  # nothing handed out yet: nothing forgotten
    book.take_changes()
    assert book.prune_final_orders(keep=1) == 2
    assert book.find_order(client_order_id="c0") is None
    assert book.find_order(client_order_id="c2") is not None
    assert book.find_order(client_order_id="L1") is not None


def test_sell_limit_at_or_below_the_market_fills_at_once_at_the_market_price(book: PaperBook, btc: Market) -> None:
    book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    request = OrderRequest("L2", "BTC/USDT", OrderSide.SELL, OrderType.LIMIT, D("0.12487"), price=D(39000))
    state = book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    assert (state.status, state.average) == (OrderStatus.FILLED, D(40000))


def test_limit_minimum_value_is_judged_at_the_limit_price(book: PaperBook, btc: Market) -> None:
    # 0.00013 BTC is worth 5.20 USDT at the 40000 limit, 4.94 at the 38000 market: the exchange accepts it.
    request = OrderRequest("L1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, D("0.00013"), price=D(40000))
    assert book.create_order(request, market=btc, market_price=D(38000), now_ms=NOW).status is OrderStatus.FILLED


def test_resting_stop_market_sell_refused_when_the_market_is_already_below(book: PaperBook, btc: Market) -> None:
    book.create_order(buy(), market=btc, market_price=D(40000), now_ms=NOW)
    request = OrderRequest("S1", "BTC/USDT", OrderSide.SELL, OrderType.STOP_MARKET, D("0.1"), stop_price=D(41000))
    with pytest.raises(OrderInvalid, match="would trigger at once"):
        book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)


def test_stop_market_buy_is_not_supported(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("S1", "BTC/USDT", OrderSide.BUY, OrderType.STOP_MARKET, D("0.1"), stop_price=D(41000))
    with pytest.raises(OrderInvalid, match="only to sell"):
        book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)


def test_order_for_another_market_than_the_one_given_is_refused(book: PaperBook, btc: Market) -> None:
    request = OrderRequest("c1", "ETH/USDT", OrderSide.BUY, OrderType.MARKET, D("0.1"))
    with pytest.raises(OrderInvalid, match="the order is for ETH/USDT but the market given is BTC/USDT"):
        book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
