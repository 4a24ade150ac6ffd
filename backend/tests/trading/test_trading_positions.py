"""Positions: average entry, fees carried, realised and unrealised P&L."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import OrderInvalid
from trading.positions import Position, position_apply_buy, position_apply_sell, position_unrealized_pnl

D = Decimal


def test_first_buy_opens_the_position_at_its_price() -> None:
    position = position_apply_buy(Position(), amount=D("0.12487"), price=D(40000), fee=D("4.9948"))
    assert position == Position(quantity=D("0.12487"), entry_price=D(40000), entry_fees=D("4.9948"))


def test_second_buy_averages_the_entry_price() -> None:
    position = position_apply_buy(Position(), amount=D(1), price=D(100), fee=D("0.1"))
    position = position_apply_buy(position, amount=D(3), price=D(200), fee=D("0.6"))
    assert position.quantity == D(4)
    assert position.entry_price == D(175)
    assert position.entry_fees == D("0.7")


def test_full_sell_realises_price_gain_minus_both_fees() -> None:
    position = position_apply_buy(Position(), amount=D("0.12487"), price=D(40000), fee=D("4.9948"))
    closed = position_apply_sell(position, amount=D("0.12487"), price=D(44000), fee=D("5.49428"))
    assert closed.realized_pnl == D("499.48") - D("4.9948") - D("5.49428")
    assert closed.quantity == 0
    assert closed.entry_fees == 0
    assert closed.is_flat


def test_partial_sell_charges_its_share_of_the_entry_fees() -> None:
    position = position_apply_buy(Position(), amount=D(4), price=D(100), fee=D(4))
    after = position_apply_sell(position, amount=D(1), price=D(120), fee=D("0.12"))
    assert after.realized_pnl == D(20) - D("0.12") - D(1)
    assert after.entry_fees == D(3)
    assert after.quantity == D(3)
    assert after.entry_price == D(100)


def test_partial_sells_then_the_rest_add_up_to_the_whole() -> None:
    position = position_apply_buy(Position(), amount=D(3), price=D(100), fee=D(3))
    position = position_apply_sell(position, amount=D(1), price=D(110), fee=D("0.11"))
    position = position_apply_sell(position, amount=D(2), price=D(90), fee=D("0.18"))
    assert position.realized_pnl == D(10) + D(-20) - D(3) - D("0.11") - D("0.18")
    assert position.quantity == 0
    assert position.entry_fees == 0


def test_selling_more_than_the_position_is_refused() -> None:
    position = position_apply_buy(Position(), amount=D(1), price=D(100), fee=D(0))
    with pytest.raises(OrderInvalid, match="cannot sell 2: the position holds only 1"):
        position_apply_sell(position, amount=D(2), price=D(100), fee=D(0))


def test_unrealized_pnl_counts_the_entry_fees() -> None:
    position = position_apply_buy(Position(), amount=D(2), price=D(100), fee=D("0.2"))
    assert position_unrealized_pnl(position, price=D(110)) == D("19.8")


def test_flat_position_has_no_unrealized_pnl() -> None:
    assert position_unrealized_pnl(Position(), price=D(110)) == 0


def test_buy_after_close_starts_a_fresh_entry_and_keeps_realised_pnl() -> None:
    position = position_apply_buy(Position(), amount=D(1), price=D(100), fee=D(0))
    position = position_apply_sell(position, amount=D(1), price=D(110), fee=D(0))
    position = position_apply_buy(position, amount=D(1), price=D(50), fee=D(0))
    assert (position.entry_price, position.realized_pnl) == (D(50), D(10))


def test_negative_fee_is_refused() -> None:
    with pytest.raises(OrderInvalid, match="fee cannot be negative"):
        position_apply_buy(Position(), amount=D(1), price=D(100), fee=D(-1))
