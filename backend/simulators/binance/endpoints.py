"""The Binance spot REST endpoints ccxt's `binance` class calls, as plain functions of the simulator.

Each takes the simulator (and, when SIGNED, the authenticated account) and the request's
parameters, and returns Binance's JSON answer or raises BinanceError.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from simulators.binance import wire
from simulators.binance.errors import UNKNOWN_ORDER, BinanceError, illegal_characters
from simulators.binance.oco import (
    oco_parse,
    oco_parse_legacy,
    oco_place,
    open_order_lists,
    order_list_cancel,
    order_list_find,
)
from simulators.binance.orders import (
    open_orders,
    order_cancel,
    order_find,
    order_lookup,
    order_place,
    placement_check,
    placement_parse,
)
from simulators.binance.params import Params
from simulators.binance.rules import random_client_id
from simulators.core.state import OrderList, SimAccount, Simulator

Json = Any
RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
]


# Public


def ping(simulator: Simulator, params: Params) -> Json:
    return {}


def server_time(simulator: Simulator, params: Params) -> Json:
    return {"serverTime": simulator.now_ms()}


def exchange_info(simulator: Simulator, params: Params) -> Json:
    """GET /api/v3/exchangeInfo, for all markets or those named by `symbol` / `symbols`."""
    symbols = _symbols(simulator, params) or list(simulator.markets_by_id)
    return {
        "timezone": "UTC",
        "serverTime": simulator.now_ms(),
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [wire.symbol_info(simulator.market(symbol)) for symbol in symbols],
    }


def ticker_24hr(simulator: Simulator, params: Params) -> Json:
    """GET /api/v3/ticker/24hr: one object for `symbol`, a list for `symbols` or for all."""
    return _per_symbol(simulator, params, lambda s: wire.ticker(s, simulator.prices.get(s), simulator.now_ms()))


def ticker_price(simulator: Simulator, params: Params) -> Json:
    return _per_symbol(simulator, params, lambda s: {"symbol": s, "price": wire.num(simulator.last_price(s))})


def _per_symbol(simulator: Simulator, params: Params, answer: Callable[[str], Json]) -> Json:
    single = params.get("symbol")
    if single is not None:
        return answer(simulator.market(single).id)
    return [answer(symbol) for symbol in _symbols(simulator, params) or simulator.markets_by_id]


def _symbols(simulator: Simulator, params: Params) -> list[str]:
    """`symbol`, or `symbols` as Binance takes it: a JSON array of ids."""
    single = params.get("symbol")
    if single is not None:
        return [simulator.market(single).id]
    many = params.get("symbols")
    if many is None:
        return []
    try:
        names = json.loads(many)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise illegal_characters("symbols", '["BTCUSDT","ETHUSDT"]')
    return [simulator.market(name).id for name in names]


# Signed: account and orders


def margin_pairs(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """GET /sapi/v1/margin/allPairs and isolated/allPairs: none, the simulator trades spot only.

    ccxt calls them in load_markets unless options fetchMargins is False.
    """
    return []


def account(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    omit_zero = (params.get("omitZeroBalances") or "false").lower() == "true"
    return wire.account_info(account, now_ms=simulator.now_ms(), omit_zero=omit_zero)


def order_new(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """POST /api/v3/order."""
    placement = placement_parse(simulator, params)
    order = order_place(simulator, account, placement)
    return wire.order_new(account, order, placement.resp_type)


def order_test(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """POST /api/v3/order/test: every check of a new order, nothing placed."""
    placement_check(simulator, placement_parse(simulator, params))
    return {}


def order_get(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    return wire.order_query(account, order_find(simulator, account, params))


def order_delete(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """DELETE /api/v3/order by orderId or origClientOrderId; -2011 for an unknown or finished order."""
    symbol = simulator.market(params.required("symbol")).id
    found = order_lookup(account, params, symbol=symbol)
    if found is None:
        raise BinanceError(-2011, UNKNOWN_ORDER)
    cancel_id = params.client_id("newClientOrderId") or random_client_id()
    order_cancel(simulator, account, found)
    return wire.order_cancel(account, found, cancel_client_id=cancel_id, now_ms=simulator.now_ms())


def orders_open(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    symbol = params.get("symbol")
    symbol = None if symbol is None else simulator.market(symbol).id
    return [wire.order_query(account, order) for order in open_orders(account, symbol)]


def orders_open_delete(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """DELETE /api/v3/openOrders: cancel every open order of `symbol`; -2011 when there is none."""
    symbol = simulator.market(params.required("symbol")).id
    orders = open_orders(account, symbol)
    if not orders:
        raise BinanceError(-2011, UNKNOWN_ORDER)
    now = simulator.now_ms()
    answers = []
    for order in orders:
        if account.is_open(order):  # an OCO twin went with its sibling
            order_cancel(simulator, account, order)
        answers.append(wire.order_cancel(account, order, cancel_client_id=random_client_id(), now_ms=now))
    return answers


def orders_all(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """GET /api/v3/allOrders: the symbol's orders from `orderId` on, at most `limit` (500, up to 1000)."""
    symbol = simulator.market(params.required("symbol")).id
    first = params.integer("orderId") or 0
    limit = min(params.integer("limit") or 500, 1000)
    orders = [order for key, order in sorted(account.orders.items()) if order.symbol == symbol and key >= first]
    return [wire.order_query(account, order) for order in orders[-limit:]]


# Signed: OCO order lists


def oco_new(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """POST /api/v3/orderList/oco."""
    return _list_answer(account, oco_place(simulator, account, oco_parse(simulator, params)))


def oco_new_legacy(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """POST /api/v3/order/oco (deprecated by Binance, still served)."""
    return _list_answer(account, oco_place(simulator, account, oco_parse_legacy(simulator, params)))


def _list_answer(account: SimAccount, listed: OrderList) -> Json:
    reports = [wire.order_new(account, account.orders[order_id], "RESULT") for order_id in listed.order_ids]
    return {**wire.order_list(account, listed), "orderReports": reports}


def order_list_get(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    missing = BinanceError(-2013, "Order list does not exist.")
    return wire.order_list(account, order_list_find(account, params, client_param="origClientOrderId", missing=missing))


def order_list_delete(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    """DELETE /api/v3/orderList: cancel both legs of an OCO."""
    simulator.market(params.required("symbol"))
    missing = BinanceError(-2011, UNKNOWN_ORDER)
    listed = order_list_find(account, params, client_param="listClientOrderId", missing=missing)
    legs = order_list_cancel(simulator, account, listed)
    now = simulator.now_ms()
    reports = [wire.order_cancel(account, leg, cancel_client_id=random_client_id(), now_ms=now) for leg in legs]
    return {**wire.order_list(account, listed, now_ms=now), "orderReports": reports}


def order_lists_open(simulator: Simulator, account: SimAccount, params: Params) -> Json:
    return [wire.order_list(account, listed) for listed in open_order_lists(account)]
