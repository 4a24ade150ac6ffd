"""Stop-loss, take-profit and OCO as ccxt's binance sends them for spot, and how they fill."""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import pytest

from .conftest import Control


@pytest.fixture
async def holding(exchange: Any) -> Any:
    """The account bought 0.01 BTC at 40,000."""
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    return exchange


async def test_stop_loss_market_is_sent_as_stop_loss_and_fills_at_its_stop(holding: Any, control: Control) -> None:
    order = await holding.create_order("BTC/USDT", "market", "sell", 0.01, params={"stopLossPrice": 38_000})
    assert (order["info"]["type"], order["triggerPrice"], order["status"]) == ("STOP_LOSS", 38_000, "open")
    assert "type=STOP_LOSS&" in holding.last_request_body
    assert (await holding.fetch_balance())["BTC"]["used"] == 0.01

    await control.price("39000", low="38500")
    assert (await holding.fetch_order(order["id"], "BTC/USDT"))["status"] == "open"
    await control.price("37900", low="37500")
    filled = await holding.fetch_order(order["id"], "BTC/USDT")
    assert (filled["status"], filled["average"]) == ("closed", 38_000)


async def test_stop_loss_limit_is_sent_with_price_and_stop(holding: Any) -> None:
    order = await holding.create_order("BTC/USDT", "limit", "sell", 0.01, 37_900, params={"stopLossPrice": 38_000})
    assert (order["info"]["type"], order["price"], order["triggerPrice"]) == ("STOP_LOSS_LIMIT", 37_900, 38_000)


async def test_take_profit_limit_fills_when_the_price_rises(holding: Any, control: Control) -> None:
    order = await holding.create_order("BTC/USDT", "limit", "sell", 0.01, 42_000, params={"takeProfitPrice": 42_000})
    assert order["info"]["type"] == "TAKE_PROFIT_LIMIT"
    await control.price("41000", high="42100")
    filled = await holding.fetch_order(order["id"], "BTC/USDT")
    assert (filled["status"], filled["average"]) == ("closed", 42_000)


async def test_take_profit_market_is_sent_as_take_profit(holding: Any) -> None:
    order = await holding.create_order("BTC/USDT", "market", "sell", 0.01, params={"takeProfitPrice": 42_000})
    assert order["info"]["type"] == "TAKE_PROFIT"


async def test_a_stop_the_market_already_crossed_is_rejected(holding: Any) -> None:
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="Stop price would trigger immediately"):
        await holding.create_order("BTC/USDT", "market", "sell", 0.01, params={"stopLossPrice": 40_500})


def oco_params(**changes: Any) -> dict[str, Any]:
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.01",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "44000",
        "aboveClientOrderId": "tp-1",
        "belowType": "STOP_LOSS",
        "belowStopPrice": "38000",
        "belowClientOrderId": "sl-1",
        "listClientOrderId": "oco-1",
    }
    return {**params, **changes}


async def test_oco_order_list_places_two_legs_sharing_one_lock(holding: Any, control: Control) -> None:
    answer = await holding.private_post_orderlist_oco(oco_params())
    assert (answer["contingencyType"], answer["listStatusType"], answer["listClientOrderId"]) == (
        "OCO",
        "EXEC_STARTED",
        "oco-1",
    )
    assert [r["type"] for r in answer["orderReports"]] == ["STOP_LOSS", "LIMIT_MAKER"]
    assert [r["clientOrderId"] for r in answer["orderReports"]] == ["sl-1", "tp-1"]
    assert (await holding.fetch_balance())["BTC"]["used"] == 0.01
    assert len(await holding.fetch_open_orders("BTC/USDT")) == 2

    await control.price("44100", high="44200")
    take = await holding.fetch_order(None, "BTC/USDT", params={"clientOrderId": "tp-1"})
    stop = await holding.fetch_order(None, "BTC/USDT", params={"clientOrderId": "sl-1"})
    assert (take["status"], take["average"], stop["status"]) == ("closed", 44_000, "expired")
    listed = await holding.private_get_orderlist({"orderListId": answer["orderListId"]})
    assert listed["listOrderStatus"] == "ALL_DONE"


async def test_oco_with_limit_legs_and_the_stop_wins_a_candle_crossing_both(holding: Any, control: Control) -> None:
    params = oco_params(
        aboveType="TAKE_PROFIT_LIMIT",
        abovePrice="44000",
        aboveStopPrice="44000",
        aboveTimeInForce="GTC",
        belowType="STOP_LOSS_LIMIT",
        belowPrice="37900",
        belowStopPrice="38000",
        belowTimeInForce="GTC",
    )
    await holding.private_post_orderlist_oco(params)
    await control.price("40000", low="37000", high="45000")
    stop = await holding.fetch_order(None, "BTC/USDT", params={"clientOrderId": "sl-1"})
    take = await holding.fetch_order(None, "BTC/USDT", params={"clientOrderId": "tp-1"})
    assert (stop["status"], stop["average"], take["status"]) == ("closed", 38_000, "expired")


async def test_legacy_order_oco_endpoint(holding: Any) -> None:
    answer = await holding.private_post_order_oco(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "quantity": "0.01",
            "price": "44000",
            "stopPrice": "38000",
            "stopLimitPrice": "37900",
            "stopLimitTimeInForce": "GTC",
        }
    )
    assert [r["type"] for r in answer["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
    assert len(await holding.private_get_openorderlist()) == 1


async def test_cancelling_one_leg_cancels_the_list(holding: Any) -> None:
    await holding.private_post_orderlist_oco(oco_params())
    await holding.cancel_order(None, "BTC/USDT", params={"clientOrderId": "tp-1"})
    assert await holding.fetch_open_orders("BTC/USDT") == []
    assert (await holding.fetch_balance())["BTC"]["used"] == 0


async def test_cancel_order_list(holding: Any) -> None:
    await holding.private_post_orderlist_oco(oco_params())
    answer = await holding.private_delete_orderlist({"symbol": "BTCUSDT", "listClientOrderId": "oco-1"})
    assert answer["listStatusType"] == "ALL_DONE"
    assert [r["status"] for r in answer["orderReports"]] == ["CANCELED", "CANCELED"]
    with pytest.raises(ccxt.OrderNotFound):
        await holding.private_delete_orderlist({"symbol": "BTCUSDT", "listClientOrderId": "oco-1"})


async def test_oco_prices_on_the_wrong_side_of_the_market_are_rejected(holding: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="relationship of the prices"):
        await holding.private_post_orderlist_oco(oco_params(belowStopPrice="40500"))


async def test_oco_without_the_base_to_sell_is_insufficient_funds(exchange: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.private_post_orderlist_oco(oco_params())
