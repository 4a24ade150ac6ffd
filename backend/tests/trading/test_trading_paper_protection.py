"""Stop-loss and take-profit on the paper exchange: one shared lock, one cancels the other."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import InsufficientFunds, OrderInvalid
from trading.markets import Market
from trading.orders import OrderRequest, OrderSide, OrderStatus, OrderType, ProtectionRequest
from trading.paper.book import PaperBook

D = Decimal
NOW = 1_700_000_000_000
AMOUNT = D("0.12487")


def protection(sl: str | None = "38000", tp: str | None = "46000", amount: Decimal = AMOUNT) -> ProtectionRequest:
    return ProtectionRequest(
        symbol="BTC/USDT",
        amount=amount,
        stop_loss_client_order_id="sl-1" if sl else None,
        stop_loss_price=D(sl) if sl else None,
        take_profit_client_order_id="tp-1" if tp else None,
        take_profit_price=D(tp) if tp else None,
    )


@pytest.fixture
def holding(book: PaperBook, btc: Market) -> PaperBook:
    """The account after buying 0.12487 BTC at 40000."""
    request = OrderRequest("entry", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, AMOUNT)
    book.create_order(request, market=btc, market_price=D(40000), now_ms=NOW)
    return book


def test_protection_places_a_stop_and_a_take_profit_sharing_one_lock(holding: PaperBook, btc: Market) -> None:
    stop, take = holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    assert (stop.type, stop.stop_price, stop.status) == (OrderType.STOP_MARKET, D(38000), OrderStatus.OPEN)
    assert (take.type, take.price, take.status) == (OrderType.TAKE_PROFIT_LIMIT, D(46000), OrderStatus.OPEN)
    balance = holding.balance()
    assert balance.free_of("BTC") == 0
    assert balance.total["BTC"] == AMOUNT


def test_stop_fills_when_candle_low_touches_it_even_if_close_is_above(holding: PaperBook, btc: Market) -> None:
    holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    changed = holding.price_update("BTC/USDT", last=D(39500), low=D(38000), high=D(40100), now_ms=NOW + 60_000)
    assert [(s.client_order_id, s.status) for s in changed] == [
        ("sl-1", OrderStatus.FILLED),
        ("tp-1", OrderStatus.CANCELED),
    ]
    assert changed[0].average == D(38000)
    assert holding.balance().free_of("BTC") == 0
    assert holding.balance().total["BTC"] == 0


def test_filled_take_profit_cancels_its_stop(holding: PaperBook, btc: Market) -> None:
    holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    changed = holding.price_update("BTC/USDT", last=D(45000), high=D(46000), now_ms=NOW + 60_000)
    assert [(s.client_order_id, s.status) for s in changed] == [
        ("tp-1", OrderStatus.FILLED),
        ("sl-1", OrderStatus.CANCELED),
    ]
    assert holding.open_orders() == []
    assert holding.balance().free_of("USDT") == D(10_000) - D("4999.7948") + D("5744.02") - D("5.74402")


def test_stop_wins_when_one_candle_crosses_both(holding: PaperBook, btc: Market) -> None:
    holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    changed = holding.price_update("BTC/USDT", last=D(40000), low=D(37000), high=D(47000), now_ms=NOW + 60_000)
    assert [(s.client_order_id, s.status) for s in changed] == [
        ("sl-1", OrderStatus.FILLED),
        ("tp-1", OrderStatus.CANCELED),
    ]


def test_cancelling_the_stop_keeps_the_take_profit_and_its_lock(holding: PaperBook, btc: Market) -> None:
    holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    holding.cancel_order(client_order_id="sl-1")
    assert [s.client_order_id for s in holding.open_orders()] == ["tp-1"]
    assert holding.balance().free_of("BTC") == 0
    holding.cancel_order(client_order_id="tp-1")
    assert holding.balance().free_of("BTC") == AMOUNT


def test_stop_already_crossed_by_the_market_is_refused(holding: PaperBook, btc: Market) -> None:
    with pytest.raises(OrderInvalid, match=r"stop-loss 38000 is at or above the market price 37500 .* trigger at once"):
        holding.create_protection(protection(), market=btc, market_price=D(37500), now_ms=NOW)
    assert holding.open_orders() == []


def test_protection_needs_the_base_amount_free(holding: PaperBook, btc: Market) -> None:
    with pytest.raises(InsufficientFunds, match=r"need 0.2 BTC, free 0.12487 BTC"):
        holding.create_protection(protection(amount=D("0.2")), market=btc, market_price=D(40000), now_ms=NOW)


def test_protection_is_idempotent_on_its_client_ids(holding: PaperBook, btc: Market) -> None:
    first = holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    again = holding.create_protection(protection(), market=btc, market_price=D(41000), now_ms=NOW + 1)
    assert again == first
    assert len(holding.open_orders()) == 2


def test_stop_alone_has_no_oco_group_and_locks_the_amount(holding: PaperBook, btc: Market) -> None:
    (stop,) = holding.create_protection(protection(tp=None), market=btc, market_price=D(40000), now_ms=NOW)
    order = holding.find_order(order_id=stop.id)
    assert order is not None and order.oco_group is None
    assert holding.balance().free_of("BTC") == 0


def test_protection_without_prices_is_refused(holding: PaperBook, btc: Market) -> None:
    with pytest.raises(OrderInvalid, match="needs a stop-loss or a take-profit"):
        holding.create_protection(protection(sl=None, tp=None), market=btc, market_price=D(40000), now_ms=NOW)


def test_stop_above_take_profit_is_refused(holding: PaperBook, btc: Market) -> None:
    with pytest.raises(OrderInvalid, match="stop-loss 46000 is not below the take-profit 38000"):
        holding.create_protection(protection(sl="46000", tp="38000"), market=btc, market_price=None, now_ms=NOW)


def test_price_update_of_another_symbol_leaves_orders_alone(holding: PaperBook, btc: Market) -> None:
    holding.create_protection(protection(), market=btc, market_price=D(40000), now_ms=NOW)
    assert holding.price_update("ETH/USDT", last=D(1), now_ms=NOW) == []
    assert holding.last_price("ETH/USDT") == D(1)
