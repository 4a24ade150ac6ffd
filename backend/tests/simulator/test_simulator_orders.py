"""Orders through ccxt's binance: market and limit orders, fills on price moves, cancel and lookups."""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import pytest

from .conftest import Control


async def test_market_buy_fills_at_the_last_price_with_fee(exchange: Any, control: Control) -> None:
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "entry-1"})
    assert order["status"] == "closed"
    assert (order["filled"], order["average"], order["cost"]) == (0.01, 40_000, 400)
    assert order["fee"] == {"currency": "USDT", "cost": 0.4}
    assert order["clientOrderId"] == "entry-1"
    assert order["info"]["fills"][0]["commissionAsset"] == "USDT"
    balance = await exchange.fetch_balance()
    assert balance["BTC"]["free"] == 0.01
    assert balance["USDT"]["total"] == pytest.approx(10_000 - 400.4)
    assert [o["clientOrderId"] for o in await control.orders()] == ["entry-1"]


async def test_market_buy_with_a_price_is_sent_as_quote_quantity(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.01, 40_000)
    assert order["info"]["origQuoteOrderQty"] == "400.00000000"
    assert order["filled"] == 0.01


async def test_limit_buy_rests_then_fills_when_the_price_falls_to_it(exchange: Any, control: Control) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "dip"})
    assert order["status"] == "open"
    open_orders = await exchange.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in open_orders] == [order["id"]]
    assert (await exchange.fetch_balance())["USDT"]["used"] == pytest.approx(390 * 1.001)

    changed = await control.price("39500", low="38900", high="40100")
    assert [o["status"] for o in changed["changed"]] == ["FILLED"]
    filled = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.01, 39_000)
    assert await exchange.fetch_open_orders("BTC/USDT") == []
    assert await exchange.fetch_open_orders() == []


async def test_marketable_limit_fills_at_once_at_the_market_price(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 41_000)
    assert (order["status"], order["average"]) == ("closed", 40_000)


async def test_cancel_releases_the_lock(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000)
    cancelled = await exchange.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    assert cancelled["info"]["origClientOrderId"] == order["clientOrderId"]
    assert (await exchange.fetch_balance())["USDT"]["used"] == 0
    assert (await exchange.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"


async def test_cancel_by_client_order_id(exchange: Any) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "to-cancel"})
    cancelled = await exchange.cancel_order(None, "BTC/USDT", params={"clientOrderId": "to-cancel"})
    assert cancelled["status"] == "canceled"


async def test_fetch_order_by_id_and_by_client_order_id(exchange: Any) -> None:
    placed = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "abc-1"})
    by_id = await exchange.fetch_order(placed["id"], "BTC/USDT")
    by_client = await exchange.fetch_order(None, "BTC/USDT", params={"clientOrderId": "abc-1"})
    by_orig = await exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "abc-1"})
    assert by_id["id"] == by_client["id"] == by_orig["id"] == placed["id"]
    assert by_client["clientOrderId"] == "abc-1"
    assert (by_id["price"], by_id["amount"], by_id["status"]) == (39_000, 0.01, "open")


async def test_unknown_order_is_order_not_found(exchange: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await exchange.fetch_order("999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await exchange.fetch_order(None, "BTC/USDT", params={"clientOrderId": "never-sent"})
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await exchange.cancel_order("999", "BTC/USDT")


async def test_cancelling_a_filled_order_is_unknown_order_as_on_binance(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    with pytest.raises(ccxt.OrderNotFound, match="Unknown order sent"):
        await exchange.cancel_order(order["id"], "BTC/USDT")


async def test_a_client_id_of_an_open_order_is_a_duplicate(exchange: Any, control: Control) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "once"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"clientOrderId": "once"})
    assert len(await control.orders()) == 1


async def test_a_client_id_of_a_finished_order_can_be_used_again_as_on_binance(exchange: Any, control: Control) -> None:
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "again"})
    second = await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "again"})
    assert len(await control.orders()) == 2
    assert (await exchange.fetch_order(None, "BTC/USDT", params={"clientOrderId": "again"}))["id"] == second["id"]


async def test_too_little_balance_is_insufficient_funds(exchange: Any, control: Control) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order("BTC/USDT", "market", "buy", 1)
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order("BTC/USDT", "market", "sell", 0.01)
    assert await control.orders() == []


async def test_filters_answer_as_binance_does(exchange: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.0001, 39_000)
    # ccxt rounds amounts and prices itself; a raw request shows the simulator's own filters
    request = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        await exchange.private_post_order({**request, "quantity": "0.000015", "price": "39000"})
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        await exchange.private_post_order({**request, "quantity": "0.01", "price": "39000.005"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        await exchange.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01"})
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        await exchange.private_post_order({**request, "symbol": "NOPEUSDT", "quantity": "1", "price": "1"})


async def test_ioc_limit_that_cannot_fill_expires(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"timeInForce": "IOC"})
    assert order["status"] == "expired"
    assert (await exchange.fetch_balance())["USDT"]["used"] == 0


async def test_post_only_that_would_take_is_rejected(exchange: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="immediately match and take"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 41_000, params={"postOnly": True})
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params={"postOnly": True})
    assert order["info"]["type"] == "LIMIT_MAKER"


async def test_a_client_order_id_binance_would_refuse_is_refused(exchange: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1100"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "x" * 37})


async def test_cancel_all_orders_of_a_symbol(exchange: Any) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000)
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 38_000)
    cancelled = await exchange.cancel_all_orders("BTC/USDT")
    assert [o["status"] for o in cancelled] == ["canceled", "canceled"]
    assert await exchange.fetch_open_orders("BTC/USDT") == []


async def test_test_orders_are_checked_but_not_placed(exchange: Any, control: Control) -> None:
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01, params={"test": True})
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.0001, 39_000, params={"test": True})
    assert await control.orders() == []


async def test_fetch_orders_lists_open_and_finished_orders(exchange: Any) -> None:
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000)
    assert [o["status"] for o in await exchange.fetch_orders("BTC/USDT")] == ["closed", "open"]
