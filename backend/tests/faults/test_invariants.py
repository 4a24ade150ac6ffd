"""The invariant checker itself: each check finds what it is for (no processes, no database)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.core.invariants import Book, BookOrder, Snapshot, invariants_check


def _order(**fields: Any) -> dict[str, Any]:
    row = {"id": 1, "client_order_id": "c1", "broker_id": 1, "webhook_id": 10, "position_id": 5, "symbol": "BTC/USDT"}
    row |= {"kind": "entry", "side": "buy", "type": "market", "amount": "0.1", "status": "filled", "filled": "0.1"}
    return row | fields


def _snapshot(**changes: Any) -> Snapshot:
    base = Snapshot(
        accepted={"t1": "BuyMarket BTCUSDT"},
        webhooks=[
            {
                "id": 10,
                "trace_id": "t1",
                "stream_id": "1-0",
                "status": "processed",
                "action": "BuyMarket",
                "symbol": "BTC/USDT",
                "broker_id": 1,
                "error_message": "",
            }
        ],
        orders=[
            _order(),
            _order(id=2, client_order_id="sl1", kind="stop_loss", side="sell", type="stop", status="open", filled="0"),
        ],
        positions=[
            {
                "id": 5,
                "broker_id": 1,
                "symbol": "BTC/USDT",
                "quantity": Decimal("0.1"),
                "stop_loss_price": Decimal(36000),
                "take_profit_price": None,
                "protection_mode": "exchange",
                "book_warning": "",
            }
        ],
        books={
            1: Book(
                1,
                "Paper",
                {"USDT": Decimal(6000), "BTC": Decimal("0.1")},
                (BookOrder("c1", "BTC/USDT", "filled"), BookOrder("sl1", "BTC/USDT", "open")),
            )
        },
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def _failed(snapshot: Snapshot) -> list[str]:
    return [result.name for result in invariants_check(snapshot) if not result.ok]


def test_a_consistent_snapshot_passes_every_check():
    assert _failed(_snapshot()) == []


def test_an_alert_answered_200_without_a_row_fails():
    assert len(_failed(_snapshot(accepted={"t1": "a", "t2": "lost"}))) == 1


def test_a_row_left_processing_fails():
    snapshot = _snapshot()
    snapshot.webhooks[0]["status"] = "processing"
    assert _failed(snapshot) == ["every alert answered 200 has exactly one final Webhook row"]


def test_two_orders_for_one_client_id_on_the_book_fail():
    snapshot = _snapshot()
    book = snapshot.books[1]
    snapshot.books[1] = Book(1, "Paper", book.balances, (*book.orders, BookOrder("c1", "BTC/USDT", "filled")))
    assert "no client order id or entry executed twice; every exchange order recorded" in _failed(snapshot)


def test_a_balance_that_differs_from_the_position_by_more_than_a_step_fails():
    snapshot = _snapshot()
    snapshot.books[1].balances["BTC"] = Decimal("0.10002")  # BTC's step is 0.00001
    assert _failed(snapshot) == ["exchange balances equal open positions; no order open that the records call closed"]


def test_an_open_order_on_the_book_recorded_canceled_fails():
    snapshot = _snapshot()
    snapshot.orders[1]["status"] = "canceled"
    failed = _failed(snapshot)
    assert "exchange balances equal open positions; no order open that the records call closed" in failed
    assert "every open position is protected (exchange orders live on the book, or engine)" in failed


def test_an_open_position_without_protection_fails():
    snapshot = _snapshot()
    snapshot.positions[0]["protection_mode"] = "none"
    assert _failed(snapshot) == ["every open position is protected (exchange orders live on the book, or engine)"]


def test_an_order_left_submitting_fails():
    snapshot = _snapshot()
    snapshot.orders[0]["status"] = "submitting"
    assert _failed(snapshot) == ["no order left in a non-final state"]
