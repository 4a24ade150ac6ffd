"""The aiohttp application: Binance's routes under /api/v3, the control API under /_sim/, and the
middleware that adds latency, answers armed faults and formats BinanceError as Binance does;
`BinanceServer` runs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simulators.binance import endpoints, wire
from simulators.binance.auth import API_KEY_HEADER, authenticate
from simulators.binance.errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    BinanceError,
    invalid_symbol,
    order_rejected,
)
from simulators.binance.faults import fault_response
from simulators.binance.params import Params
from simulators.core import control
from simulators.core.faults import hold_after_accept
from simulators.core.server import SimulatorServer
from simulators.core.state import SimAccount, Simulator, UnknownSymbol

logger = logging.getLogger("aristobot.simulator")

SIMULATOR = web.AppKey("simulator", Simulator)
CONTROL_PREFIX = "/_sim/"
DEFAULT_PORT = 8900

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PublicEndpoint = Callable[[Simulator, Params], Any]
SignedEndpoint = Callable[[Simulator, SimAccount, Params], Any]


def create_app(simulator: Simulator) -> web.Application:
    """The simulator's web application; the Simulator holds all state, so tests can reach it directly."""
    app = web.Application(middlewares=[_binance_middleware])
    app[SIMULATOR] = simulator
    _add_api_routes(app.router)
    control.add_routes(app.router, SIMULATOR, order_view=wire.order_query)
    app.on_shutdown.append(_on_shutdown)
    return app


class BinanceServer(SimulatorServer):
    """The Binance simulator on host:port (port 0 picks a free one)."""

    def create_app(self) -> web.Application:
        return create_app(self.simulator)


def _add_api_routes(router: web.UrlDispatcher) -> None:
    api = "/api/v3"
    router.add_get(f"{api}/ping", _public(endpoints.ping))
    router.add_get(f"{api}/time", _public(endpoints.server_time))
    router.add_get(f"{api}/exchangeInfo", _public(endpoints.exchange_info))
    router.add_get(f"{api}/ticker/24hr", _public(endpoints.ticker_24hr))
    router.add_get(f"{api}/ticker/price", _public(endpoints.ticker_price))
    router.add_get(f"{api}/account", _signed(endpoints.account))
    router.add_post(f"{api}/order", _signed(endpoints.order_new, places_orders=True))
    router.add_post(f"{api}/order/test", _signed(endpoints.order_test))
    router.add_get(f"{api}/order", _signed(endpoints.order_get))
    router.add_delete(f"{api}/order", _signed(endpoints.order_delete))
    router.add_get(f"{api}/openOrders", _signed(endpoints.orders_open))
    router.add_delete(f"{api}/openOrders", _signed(endpoints.orders_open_delete))
    router.add_get(f"{api}/allOrders", _signed(endpoints.orders_all))
    router.add_post(f"{api}/orderList/oco", _signed(endpoints.oco_new, places_orders=True))
    router.add_post(f"{api}/order/oco", _signed(endpoints.oco_new_legacy, places_orders=True))
    router.add_get(f"{api}/orderList", _signed(endpoints.order_list_get))
    router.add_delete(f"{api}/orderList", _signed(endpoints.order_list_delete))
    router.add_get(f"{api}/openOrderList", _signed(endpoints.order_lists_open))
    router.add_get("/sapi/v1/margin/allPairs", _signed(endpoints.margin_pairs))
    router.add_get("/sapi/v1/margin/isolated/allPairs", _signed(endpoints.margin_pairs))


def _public(endpoint: PublicEndpoint) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        params = Params.parse(request.rel_url.raw_query_string, await request.text())
        return _json(endpoint(request.app[SIMULATOR], params))

    return handle


def _signed(endpoint: SignedEndpoint, *, places_orders: bool = False) -> Handler:
    """A SIGNED endpoint: authenticate, then for order entry apply the armed order faults around it."""

    async def handle(request: web.Request) -> web.StreamResponse:
        simulator = request.app[SIMULATOR]
        raw_query, raw_body = request.rel_url.raw_query_string, await request.text()
        params = Params.parse(raw_query, raw_body)
        account = authenticate(
            simulator,
            api_key=request.headers.get(API_KEY_HEADER),
            raw_query=raw_query,
            raw_body=raw_body,
            params=params,
        )
        faults = simulator.faults
        if places_orders and faults.take("insufficient_balance"):
            raise order_rejected(INSUFFICIENT_BALANCE)
        if places_orders and faults.take("duplicate_client_id"):
            raise order_rejected(DUPLICATE_ORDER)
        answer = endpoint(simulator, account, params)
        if places_orders and faults.take("timeout_after_accept"):
            logger.info("fault: order accepted, answer %s (%s)", faults.timeout_mode, request.path)
            await hold_after_accept(request, faults, simulator.stopping)
        return _json(answer)

    return handle


def _json(answer: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(answer, status=status, headers=headers, content_type="application/json")


@web.middleware
async def _binance_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency and request faults first (not for /_sim/; only on `fault_route` when set), then
    BinanceError (and an unknown symbol, -1121) as Binance's JSON answer."""
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    simulator = request.app[SIMULATOR]
    simulator.requests.append(f"{request.method} {request.path}")
    faults = simulator.faults
    routed = faults.applies_to(request.method, request.path)
    if routed and faults.latency_ms:
        # The request is sent, still on its way: like Binance, the simulator executes it when it
        # arrives (if within its recvWindow), even if the client has given up waiting by then.
        await request.read()
        await asyncio.sleep(faults.latency_ms / 1000)
    faulted = fault_response(faults) if routed else None
    if faulted is not None:
        logger.info("fault: %s %s answered %d", request.method, request.path, faulted.status)
        return faulted
    try:
        return await handler(request)
    except UnknownSymbol:
        error = invalid_symbol()
    except BinanceError as refused:
        error = refused
    except web.HTTPNotFound:
        logger.warning("the simulator does not serve %s %s", request.method, request.path)
        raise
    logger.info("%s %s -> %d %s", request.method, request.path, error.code, error.msg)
    return _json(error.body(), status=error.status, headers=error.headers)


async def _on_shutdown(app: web.Application) -> None:
    app[SIMULATOR].stopping.set()
