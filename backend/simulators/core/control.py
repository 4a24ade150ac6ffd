"""The control API under /_sim/: accounts, prices, faults, reset and the orders really accepted.

The same for every simulated exchange; orders are listed as the exchange's own API shows them
(the protocol passes its `OrderView`). No authentication: the simulator is a local test tool and
binds 127.0.0.1 by default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.core.state import AccountSpec, SimAccount, Simulator, UnknownSymbol, WireOrder, new_key
from trading.numbers import decimal_from
from trading.paper.markets import TAKER_FEE


class ControlError(Exception):
    """A control request that cannot be done; answered 400 {"error": ...}."""


Query = Mapping[str, str]
OrderView = Callable[[SimAccount, WireOrder], dict[str, Any]]
ControlAction = Callable[[Simulator, dict[str, Any], Query, OrderView], Any]

_EIGHT = Decimal("0.00000001")


def add_routes(router: web.UrlDispatcher, key: web.AppKey[Simulator], *, order_view: OrderView) -> None:
    """Register the /_sim/ routes; `key` finds the Simulator in the application, `order_view`
    describes an order as the exchange's API does."""

    def route(action: ControlAction) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            try:
                payload = await _payload(request)
                return web.json_response(action(request.app[key], payload, request.rel_url.query, order_view))
            except ControlError as error:
                return web.json_response({"error": str(error)}, status=400)

        return handle

    router.add_post("/_sim/accounts", route(accounts_create))
    router.add_get("/_sim/accounts", route(accounts_list))
    router.add_post("/_sim/price", route(price_set))
    router.add_post("/_sim/faults", route(faults_arm))
    router.add_get("/_sim/faults", route(faults_get))
    router.add_post("/_sim/reset", route(reset))
    router.add_get("/_sim/orders", route(orders_list))
    router.add_get("/_sim/requests", route(requests_list))


async def _payload(request: web.Request) -> dict[str, Any]:
    if request.method != "POST" or not request.can_read_body:
        return {}
    try:
        payload = json.loads(await request.text() or "{}")
    except ValueError as error:
        raise ControlError(f"the body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ControlError("the body must be a JSON object")
    return payload


def _num(value: Decimal) -> str:
    """An amount with eight decimals: "250.00000000"."""
    return format(value.quantize(_EIGHT), "f")


def _decimal(payload: dict[str, Any], name: str, *, required: bool = False) -> Decimal | None:
    raw = payload.get(name)
    if raw is None:
        if required:
            raise ControlError(f"'{name}' is required")
        return None
    value = decimal_from(raw)
    if value is None or value < 0:
        raise ControlError(f"'{name}' must be a number >= 0, not {raw!r}")
    return value


def accounts_create(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    """{"api_key"?, "api_secret"?, "balances": {"USDT": "10000"}, "fee_rate"?}: a fresh account, keys made up."""
    balances = payload.get("balances", {"USDT": "10000"})
    if not isinstance(balances, dict):
        raise ControlError('\'balances\' must be an object like {"USDT": "10000"}')
    fee_rate = _decimal(payload, "fee_rate")
    spec = AccountSpec(
        api_key=str(payload.get("api_key") or new_key()),
        api_secret=str(payload.get("api_secret") or new_key()),
        balances={str(asset): _decimal(balances, asset, required=True) or Decimal(0) for asset in balances},
        fee_rate=TAKER_FEE if fee_rate is None else fee_rate,
    )
    simulator.account_add(spec)
    return {"api_key": spec.api_key, "api_secret": spec.api_secret, "balances": _balances(simulator, spec.api_key)}


def accounts_list(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    return [{"api_key": key, "balances": _balances(simulator, key)} for key in simulator.accounts]


def _balances(simulator: Simulator, api_key: str) -> dict[str, dict[str, str]]:
    balance = simulator.accounts[api_key].book.balance()
    return {
        asset: {"free": _num(balance.free_of(asset)), "total": _num(total)}
        for asset, total in sorted(balance.total.items())
    }


def price_set(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    """{"symbol": "BTCUSDT", "last": "40000", "low"?, "high"?}: record the candle and match resting orders."""
    symbol = str(payload.get("symbol") or "").replace("/", "").upper()
    last = _decimal(payload, "last", required=True) or Decimal(0)
    try:
        changed = simulator.price_set(symbol, last=last, low=_decimal(payload, "low"), high=_decimal(payload, "high"))
    except (UnknownSymbol, ValueError) as error:
        raise ControlError(str(error)) from None
    return {
        "symbol": symbol,
        "last": _num(last),
        "changed": [{"apiKey": account.api_key, **order_view(account, order)} for account, order in changed],
    }


def faults_arm(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    try:
        simulator.faults.arm(payload)
    except ValueError as error:
        raise ControlError(str(error)) from None
    return simulator.faults.as_dict()


def faults_get(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    return simulator.faults.as_dict()


def reset(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    """Back to the startup state: its accounts and balances, no orders, its prices, no faults."""
    simulator.reset()
    return {"accounts": len(simulator.accounts), "faults": simulator.faults.as_dict()}


def orders_list(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    """Every order the simulator accepted, oldest first; filter with ?api_key=, ?symbol=, ?clientOrderId=."""
    orders = [
        {"apiKey": account.api_key, **order_view(account, order)}
        for account, order in simulator.all_orders()
        if query.get("api_key") in (None, account.api_key)
        and query.get("symbol") in (None, order.symbol)
        and query.get("clientOrderId") in (None, order.client_order_id)
    ]
    return {"count": len(orders), "orders": orders}


def requests_list(simulator: Simulator, payload: dict[str, Any], query: Query, order_view: OrderView) -> Any:
    """The last 1000 API requests, oldest first, as "GET /api/v3/account": what a client really called."""
    return list(simulator.requests)
