"""Binance's JSON shapes: exchangeInfo symbols, orders (new, query, cancel), order lists, tickers, account."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from simulators.core.state import OrderList, PriceStats, SimAccount, WireOrder
from trading.markets import Market
from trading.orders import OrderStatus

Json = dict[str, Any]

_EIGHT = Decimal("0.00000001")
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
MAX_PRICE = Decimal(1_000_000)
MAX_QTY = Decimal(9_000_000_000)
MAX_NOTIONAL = Decimal(9_000_000)
STP_MODE = "EXPIRE_MAKER"


def num(value: Decimal | None) -> str:
    """A decimal as Binance writes it: eight decimals, "0.00000000" for none."""
    return format((value or Decimal(0)).quantize(_EIGHT), "f")


def symbol_info(market: Market) -> Json:
    """One entry of exchangeInfo's `symbols`, with the filters ccxt reads precision and limits from."""
    return {
        "symbol": market.id,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": num(market.price_step),
                "maxPrice": num(MAX_PRICE),
                "tickSize": num(market.price_step),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": num(market.min_amount or market.amount_step),
                "maxQty": num(MAX_QTY),
                "stepSize": num(market.amount_step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": num(Decimal(0)),
                "maxQty": num(MAX_QTY),
                "stepSize": num(Decimal(0)),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": num(market.min_cost),
                "applyMinToMarket": True,
                "maxNotional": num(MAX_NOTIONAL),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": STP_MODE,
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def status(account: SimAccount, wire: WireOrder) -> str:
    """Binance's status: the engine fills orders whole, so never PARTIALLY_FILLED."""
    engine_status = account.engine(wire).status
    if engine_status is OrderStatus.OPEN:
        return "NEW"
    if engine_status is OrderStatus.CANCELED and wire.expired:
        return "EXPIRED"
    return engine_status.value.upper()


def _report(account: SimAccount, wire: WireOrder) -> Json:
    """The fields every order answer carries after the ids."""
    engine = account.engine(wire)
    report: Json = {
        "price": num(wire.price),
        "origQty": num(wire.orig_qty),
        "executedQty": num(engine.filled),
        "cummulativeQuoteQty": num(engine.filled * (engine.average or Decimal(0))),
        "status": status(account, wire),
        "timeInForce": wire.time_in_force,
        "type": wire.type,
        "side": wire.side,
    }
    if wire.type in STOP_TYPES:
        report["stopPrice"] = num(wire.stop_price)
    return report


def _ids(wire: WireOrder) -> Json:
    return {
        "symbol": wire.symbol,
        "orderId": wire.order_id,
        "orderListId": wire.order_list_id,
        "clientOrderId": wire.client_order_id,
    }


def order_new(account: SimAccount, wire: WireOrder, resp_type: str) -> Json:
    """POST /api/v3/order's answer in the requested newOrderRespType: ACK, RESULT or FULL (with fills)."""
    answer = {**_ids(wire), "transactTime": wire.time_ms}
    if resp_type == "ACK":
        return answer
    answer.update(_report(account, wire))
    answer.update(
        origQuoteOrderQty=num(wire.orig_quote_qty), workingTime=wire.time_ms, selfTradePreventionMode=STP_MODE
    )
    if resp_type == "FULL":
        answer["fills"] = fills(account, wire)
    return answer


def fills(account: SimAccount, wire: WireOrder) -> list[Json]:
    """The trades of an order: one, since the engine fills whole; commission in the quote, as the engine charges."""
    engine = account.engine(wire)
    if not engine.filled:
        return []
    return [
        {
            "price": num(engine.average),
            "qty": num(engine.filled),
            "commission": num(engine.fee),
            "commissionAsset": engine.quote,
            "tradeId": wire.order_id,
        }
    ]


def order_query(account: SimAccount, wire: WireOrder) -> Json:
    """GET /api/v3/order, openOrders and allOrders: one order as Binance describes it."""
    engine = account.engine(wire)
    triggered = wire.type not in STOP_TYPES or engine.filled > 0
    return {
        **_ids(wire),
        **_report(account, wire),
        "stopPrice": num(wire.stop_price),
        "icebergQty": num(Decimal(0)),
        "time": wire.time_ms,
        "updateTime": engine.updated_ms,
        "isWorking": triggered,
        "workingTime": wire.time_ms if triggered else -1,
        "origQuoteOrderQty": num(wire.orig_quote_qty),
        "selfTradePreventionMode": STP_MODE,
    }


def order_cancel(account: SimAccount, wire: WireOrder, *, cancel_client_id: str, now_ms: int) -> Json:
    """DELETE /api/v3/order: `clientOrderId` is the cancel request's own id, the order's is `origClientOrderId`."""
    return {
        "symbol": wire.symbol,
        "origClientOrderId": wire.client_order_id,
        "orderId": wire.order_id,
        "orderListId": wire.order_list_id,
        "clientOrderId": cancel_client_id,
        "transactTime": now_ms,
        **_report(account, wire),
        "origQuoteOrderQty": num(wire.orig_quote_qty),
        "selfTradePreventionMode": STP_MODE,
    }


def order_list(account: SimAccount, listed: OrderList, *, now_ms: int | None = None) -> Json:
    """An OCO as GET /api/v3/orderList (and, with reports added, its create and cancel answers) describe it."""
    legs = [account.orders[order_id] for order_id in listed.order_ids]
    done = not any(account.is_open(leg) for leg in legs)
    return {
        "orderListId": listed.order_list_id,
        "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": listed.list_client_order_id,
        "transactionTime": listed.time_ms if now_ms is None else now_ms,
        "symbol": listed.symbol,
        "orders": [
            {"symbol": leg.symbol, "orderId": leg.order_id, "clientOrderId": leg.client_order_id} for leg in legs
        ],
    }


def ticker(symbol: str, stats: PriceStats | None, now_ms: int) -> Json:
    """GET /api/v3/ticker/24hr (FULL); all zeros for a symbol without a price yet, as for one without trades."""
    last = stats.last if stats else Decimal(0)
    opened = stats.open if stats else Decimal(0)
    change = last - opened
    return {
        "symbol": symbol,
        "priceChange": num(change),
        "priceChangePercent": format((change / opened * 100 if opened else Decimal(0)).quantize(Decimal("0.001")), "f"),
        "weightedAvgPrice": num(last),
        "prevClosePrice": num(stats.prev_close if stats else None),
        "lastPrice": num(last),
        "lastQty": num(Decimal(0)),
        "bidPrice": num(last),
        "bidQty": num(Decimal(1) if stats else None),
        "askPrice": num(last),
        "askQty": num(Decimal(1) if stats else None),
        "openPrice": num(opened),
        "highPrice": num(stats.high if stats else None),
        "lowPrice": num(stats.low if stats else None),
        "volume": num(Decimal(0)),
        "quoteVolume": num(Decimal(0)),
        "openTime": stats.open_ms if stats else now_ms - 86_400_000,
        "closeTime": stats.updated_ms if stats else now_ms,
        "firstId": 1 if stats else -1,
        "lastId": stats.count if stats else -1,
        "count": stats.count if stats else 0,
    }


def account_info(account: SimAccount, *, now_ms: int, omit_zero: bool) -> Json:
    """GET /api/v3/account: free and locked per asset, commission rates from the account's fee."""
    balance = account.book.balance()
    rate = num(account.book.fee_rate)
    balances = [
        {"asset": asset, "free": num(balance.free_of(asset)), "locked": num(total - balance.free_of(asset))}
        for asset, total in sorted(balance.total.items())
        if not (omit_zero and total == 0)
    ]
    commission = int(account.book.fee_rate * 10_000)
    return {
        "makerCommission": commission,
        "takerCommission": commission,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": rate, "taker": rate, "buyer": num(None), "seller": num(None)},
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": zlib.crc32(account.api_key.encode()) % 1_000_000_000,
    }
