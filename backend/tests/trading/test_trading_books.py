"""Records against an exchange's book: orders to repair, balances that disagree with positions."""

from __future__ import annotations

from decimal import Decimal as D

from trading.books import RecordedOrder, balances_compare, orders_compare
from trading.markets import Market
from trading.orders import OrderSide, OrderState, OrderStatus, OrderType

BTC = Market("BTC/USDT", "BTCUSDT", "BTC", "USDT", amount_step=D("0.00001"), price_step=D("0.01"))
BTC_FDUSD = Market("BTC/FDUSD", "BTCFDUSD", "BTC", "FDUSD", amount_step=D("0.0001"), price_step=D("0.01"))
DOGE = Market("DOGE/USDT", "DOGEUSDT", "DOGE", "USDT", amount_step=D("1"), price_step=D("0.00001"))
MARKETS = {m.symbol: m for m in (BTC, BTC_FDUSD, DOGE)}


def state(cid: str, status: OrderStatus, *, filled: str = "0", symbol: str = "BTC/USDT") -> OrderState:
    return OrderState(
        id=cid.upper(),
        client_order_id=cid,
        symbol=symbol,
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        status=status,
        amount=D("0.01"),
        filled=D(filled),
    )


def record(cid: str, status: OrderStatus, *, filled: str = "0", settled: bool = True) -> RecordedOrder:
    return RecordedOrder(cid, "BTC/USDT", status, D(filled), settled=settled)


def test_an_order_open_on_the_book_but_cancelled_in_the_records_is_to_be_cancelled() -> None:
    repairs = orders_compare(
        records={"sl": record("sl", OrderStatus.CANCELED), "tp": record("tp", OrderStatus.OPEN)},
        book_open=[state("sl", OrderStatus.OPEN), state("tp", OrderStatus.OPEN)],
        looked_up={"tp": state("tp", OrderStatus.OPEN)},
    )
    assert [s.client_order_id for s in repairs.cancel] == ["sl"]
    assert repairs.report == [] and repairs.missing == []


def test_an_open_order_the_records_do_not_know_is_left_alone() -> None:
    repairs = orders_compare(records={}, book_open=[state("manual", OrderStatus.OPEN)], looked_up={})
    assert repairs.cancel == [] and repairs.report == [] and repairs.missing == []


def test_a_recorded_open_order_filled_on_the_book_is_reported() -> None:
    filled = state("sl", OrderStatus.FILLED, filled="0.01")
    repairs = orders_compare(records={"sl": record("sl", OrderStatus.OPEN)}, book_open=[], looked_up={"sl": filled})
    assert repairs.report == [filled]


def test_a_partial_fill_and_an_answer_never_recorded_are_reported() -> None:
    partial = state("a", OrderStatus.OPEN, filled="0.004")
    placed = state("b", OrderStatus.OPEN)
    repairs = orders_compare(
        records={"a": record("a", OrderStatus.OPEN), "b": record("b", OrderStatus.SUBMITTING)},
        book_open=[partial, placed],
        looked_up={"a": partial, "b": placed},
    )
    assert repairs.report == [partial, placed]
    assert repairs.cancel == []


def test_a_sent_order_unknown_to_the_book_is_missing_once_settled() -> None:
    repairs = orders_compare(
        records={
            "old": record("old", OrderStatus.SUBMITTING),
            "new": record("new", OrderStatus.SUBMITTING, settled=False),
        },
        book_open=[],
        looked_up={"old": None, "new": None},
    )
    assert [r.client_order_id for r in repairs.missing] == ["old"]


def test_orders_not_looked_up_get_no_verdict() -> None:
    repairs = orders_compare(records={"x": record("x", OrderStatus.OPEN)}, book_open=[], looked_up={})
    assert repairs.missing == [] and repairs.report == []


def test_balance_equal_to_the_position_within_one_step_agrees() -> None:
    checks = balances_compare(
        totals={"BTC": D("0.01000"), "DOGE": D("7302")},
        positions={"BTC/USDT": D("0.009995"), "DOGE/USDT": D("7302.4")},
        markets=MARKETS,
    )
    assert [(c.symbol, c.warning) for c in checks] == [("BTC/USDT", ""), ("DOGE/USDT", "")]


def test_balance_below_the_position_says_both_figures() -> None:
    (check,) = balances_compare(totals={"DOGE": D("5500")}, positions={"DOGE/USDT": D("7302")}, markets=MARKETS)
    assert check.symbol == "DOGE/USDT"
    assert "holds 5500 DOGE" in check.warning and "7302 DOGE" in check.warning and "-1802" in check.warning


def test_coins_held_without_an_open_position_disagree() -> None:
    (check,) = balances_compare(totals={"BTC": D("0.5")}, positions={"BTC/USDT": D(0)}, markets=MARKETS)
    assert "holds 0.5 BTC" in check.warning


def test_markets_sharing_a_base_are_compared_together() -> None:
    checks = balances_compare(
        totals={"BTC": D("0.03")}, positions={"BTC/USDT": D("0.01"), "BTC/FDUSD": D("0.02")}, markets=MARKETS
    )
    assert all(c.warning == "" for c in checks) and len(checks) == 2
    checks = balances_compare(
        totals={"BTC": D("0.01")}, positions={"BTC/USDT": D("0.01"), "BTC/FDUSD": D("0.02")}, markets=MARKETS
    )
    assert all("BTC/FDUSD, BTC/USDT" in c.warning for c in checks)


def test_unknown_and_futures_markets_get_no_verdict() -> None:
    swap = Market("BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", amount_step=D("0.001"), price_step=D("0.1"))
    checks = balances_compare(
        totals={"BTC": D(1)}, positions={"XYZ/USDT": D(1), "BTC/USDT:USDT": D(0)}, markets={swap.symbol: swap}
    )
    assert checks == []
