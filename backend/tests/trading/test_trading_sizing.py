"""How much to buy or sell for a `PourCent`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import InsufficientFunds, OrderInvalid
from trading.markets import Market
from trading.sizing import buy_amount, sell_amount


def test_buy_of_half_balance_at_40000_buys_about_0_125_btc(btc: Market) -> None:
    amount = buy_amount(free_quote=Decimal(10_000), pour_cent=Decimal(50), price=Decimal(40000), market=btc)
    assert amount == Decimal("0.12487")


def test_buy_cost_plus_fee_never_exceeds_the_share_of_the_balance(btc: Market) -> None:
    amount = buy_amount(free_quote=Decimal("1234.56"), pour_cent=Decimal(100), price=Decimal("43210.99"), market=btc)
    assert amount * Decimal("43210.99") * Decimal("1.001") <= Decimal("1234.56")
    assert amount % btc.amount_step == 0


def test_buy_with_no_free_quote_is_insufficient_funds(btc: Market) -> None:
    with pytest.raises(InsufficientFunds, match="no free USDT to buy BTC"):
        buy_amount(free_quote=Decimal(0), pour_cent=Decimal(100), price=Decimal(40000), market=btc)


def test_buy_below_the_minimum_cost_says_how_much_was_used(btc: Market) -> None:
    with pytest.raises(OrderInvalid, match=r"below the minimum 5 USDT for BTC/USDT \(50% of the free 8.00 USDT"):
        buy_amount(free_quote=Decimal(8), pour_cent=Decimal(50), price=Decimal(40000), market=btc)


def test_sell_of_100_percent_sells_the_whole_position_rounded_down(btc: Market) -> None:
    amount = sell_amount(
        position_quantity=Decimal("0.124879"), pour_cent=Decimal(100), price=Decimal(44000), market=btc
    )
    assert amount == Decimal("0.12487")


def test_sell_of_a_share_is_rounded_down(btc: Market) -> None:
    amount = sell_amount(position_quantity=Decimal("0.12487"), pour_cent=Decimal(33), price=Decimal(44000), market=btc)
    assert amount == Decimal("0.04120")


def test_sell_of_a_tiny_position_says_it_is_too_small(btc: Market) -> None:
    with pytest.raises(OrderInvalid, match="the position is too small to sell on the exchange"):
        sell_amount(position_quantity=Decimal("0.0001"), pour_cent=Decimal(100), price=Decimal(40000), market=btc)


def test_sell_without_a_position_is_refused(btc: Market) -> None:
    with pytest.raises(OrderInvalid, match="there is no BTC position to sell"):
        sell_amount(position_quantity=Decimal(0), pour_cent=Decimal(100), price=Decimal(40000), market=btc)


@pytest.mark.parametrize("pour_cent", [Decimal(0), Decimal(101)])
def test_sizing_refuses_pour_cent_outside_0_to_100(btc: Market, pour_cent: Decimal) -> None:
    with pytest.raises(OrderInvalid, match="PourCent must be more than 0 and at most 100"):
        buy_amount(free_quote=Decimal(100), pour_cent=pour_cent, price=Decimal(40000), market=btc)
