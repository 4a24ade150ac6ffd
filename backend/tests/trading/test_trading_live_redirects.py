"""A rebased ccxt client (a broker's `api_base_url`) never follows a redirect: an allowlisted
proxy that redirects must not carry the signed request and the key header to another address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from trading.errors import ConfigurationError
from trading.live.exchange import CcxtConfig, CcxtExchange


@pytest.fixture
async def redirecting_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """`/api/v3/time` redirects (307) to `/elsewhere/...`, which records what reached it."""
    reached: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"/elsewhere{request.path_qs}")

    async def elsewhere(request: web.Request) -> web.Response:
        reached.append(request.headers.get("X-MBX-APIKEY", "") + " " + request.path_qs)
        return web.json_response({"serverTime": 1})

    app = web.Application()
    app.router.add_get("/api/v3/{tail:.*}", redirect)
    app.router.add_get("/elsewhere/{tail:.*}", elsewhere)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", reached
    finally:
        await runner.cleanup()


async def test_a_rebased_client_refuses_a_redirect_and_sends_nothing_to_its_target(redirecting_proxy):
    base_url, reached = redirecting_proxy
    exchange = CcxtExchange(CcxtConfig("binance", "'Main' (#3, binance)", api_key="KEY1234", api_base_url=base_url))
    try:
        with pytest.raises(ConfigurationError, match=r"redirect \(HTTP 307\)") as raised:
            await exchange._call("fetch_time")
    finally:
        await exchange.close()

    assert reached == []
    assert "elsewhere" not in str(raised.value) and "127.0.0.1" not in str(raised.value)


async def test_closing_a_rebased_client_closes_its_session(redirecting_proxy):
    base_url, _ = redirecting_proxy
    exchange = CcxtExchange(CcxtConfig("binance", "x", api_base_url=base_url))
    session = exchange.client().session

    await exchange.close()

    assert session.closed


async def test_a_client_on_the_exchanges_own_address_keeps_ccxts_session():
    exchange = CcxtExchange(CcxtConfig("binance", "x"))

    assert exchange.client().own_session
    await exchange.close()
