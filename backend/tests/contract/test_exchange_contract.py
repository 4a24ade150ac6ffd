"""Every exchange adapter keeps the same contract: the engine cannot tell paper from live."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.errors import ExchangeRejected, InsufficientFunds, OrderInvalid, OrderNotFound
from trading.orders import OrderRequest, OrderSide, OrderStatus, OrderType, ProtectionRequest


def _order(cid: str, **fields) -> OrderRequest:
    values = {"symbol": "BTC/USDT", "side": OrderSide.BUY, "type": OrderType.MARKET, "amount": Decimal("0.01")}
    return OrderRequest(client_order_id=cid, **{**values, **fields})


async def test_balance_shows_the_starting_usdt(venue):
    balance = await venue.exchange.fetch_balance()

    assert balance.free_of("USDT") == Decimal(10_000)


async def test_markets_carry_binance_precision_and_minimums(venue):
    market = (await venue.exchange.load_markets())["BTC/USDT"]

    assert market.id == "BTCUSDT" and market.base == "BTC" and market.quote == "USDT"
    assert market.amount_step == Decimal("0.00001") and market.price_step == Decimal("0.01")
    assert market.min_cost == Decimal(5)


async def test_market_buy_fills_at_the_market_price_and_spends_quote(venue):
    state = await venue.exchange.create_order(_order("c-buy", reference_price=Decimal(40_000)))

    assert state.status == OrderStatus.FILLED and state.filled == Decimal("0.01")
    assert state.average == Decimal(40_000) and state.client_order_id == "c-buy"
    balance = await venue.exchange.fetch_balance()
    assert balance.free_of("BTC") > 0 and balance.free_of("USDT") < Decimal(9_601)


async def test_placing_the_same_client_order_id_twice_places_one_order(venue):
    first = await venue.exchange.create_order(_order("c-once", reference_price=Decimal(40_000)))
    second = await venue.exchange.create_order(_order("c-once", reference_price=Decimal(40_000)))

    assert second.id == first.id
    balance = await venue.exchange.fetch_balance()
    assert balance.free_of("BTC") <= Decimal("0.01")


async def test_limit_buy_rests_then_fills_when_the_price_comes_down(venue):
    state = await venue.exchange.create_order(_order("c-lim", type=OrderType.LIMIT, price=Decimal(39_000)))
    assert state.status == OrderStatus.OPEN
    assert [o.client_order_id for o in await venue.exchange.fetch_open_orders("BTC/USDT")] == ["c-lim"]

    await venue.move_price("39050", low="38990", high="39100")

    filled = await venue.exchange.fetch_order(symbol="BTC/USDT", client_order_id="c-lim")
    assert filled.status == OrderStatus.FILLED and filled.average == Decimal(39_000)


async def test_cancel_releases_a_resting_order(venue):
    await venue.exchange.create_order(_order("c-cancel", type=OrderType.LIMIT, price=Decimal(30_000)))

    canceled = await venue.exchange.cancel_order(symbol="BTC/USDT", client_order_id="c-cancel")

    assert canceled.status == OrderStatus.CANCELED
    assert await venue.exchange.fetch_open_orders("BTC/USDT") == []
    assert (await venue.exchange.fetch_balance()).free_of("USDT") == Decimal(10_000)


async def test_fetch_by_unknown_client_id_is_order_not_found(venue):
    with pytest.raises(OrderNotFound):
        await venue.exchange.fetch_order(symbol="BTC/USDT", client_order_id="never-placed")


async def test_order_under_the_minimum_value_is_refused(venue):
    with pytest.raises((OrderInvalid, ExchangeRejected)):
        await venue.exchange.create_order(_order("c-tiny", amount=Decimal("0.00005"), reference_price=Decimal(40_000)))


async def test_buy_beyond_the_balance_is_insufficient_funds(venue):
    with pytest.raises(InsufficientFunds):
        await venue.exchange.create_order(_order("c-big", amount=Decimal("1"), reference_price=Decimal(40_000)))


async def test_stop_loss_fills_when_a_candle_low_touches_it_and_its_take_profit_ends(venue):
    await venue.exchange.create_order(_order("c-entry", amount=Decimal("0.1"), reference_price=Decimal(40_000)))
    bought = (await venue.exchange.fetch_balance()).free_of("BTC")
    protection = await venue.exchange.create_protection(
        ProtectionRequest(
            symbol="BTC/USDT",
            amount=bought,
            stop_loss_client_order_id="c-sl",
            stop_loss_price=Decimal(38_000),
            take_profit_client_order_id="c-tp",
            take_profit_price=Decimal(46_000),
        )
    )
    assert {state.client_order_id for state in protection} == {"c-sl", "c-tp"}
    assert all(state.status == OrderStatus.OPEN for state in protection)

    await venue.move_price("38100", low="37990", high="38200")

    stop = await venue.exchange.fetch_order(symbol="BTC/USDT", client_order_id="c-sl")
    take = await venue.exchange.fetch_order(symbol="BTC/USDT", client_order_id="c-tp")
    assert stop.status == OrderStatus.FILLED and stop.filled == bought
    assert take.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED)
    assert (await venue.exchange.fetch_balance()).free_of("BTC") == 0


async def test_take_profit_fills_when_a_candle_high_reaches_it(venue):
    await venue.exchange.create_order(_order("c-entry2", amount=Decimal("0.1"), reference_price=Decimal(40_000)))
    bought = (await venue.exchange.fetch_balance()).free_of("BTC")
    await venue.exchange.create_protection(
        ProtectionRequest(
            symbol="BTC/USDT",
            amount=bought,
            stop_loss_client_order_id="c-sl2",
            stop_loss_price=Decimal(38_000),
            take_profit_client_order_id="c-tp2",
            take_profit_price=Decimal(46_000),
        )
    )

    await venue.move_price("45900", low="45000", high="46010")

    take = await venue.exchange.fetch_order(symbol="BTC/USDT", client_order_id="c-tp2")
    assert take.status == OrderStatus.FILLED and take.average == Decimal(46_000)
