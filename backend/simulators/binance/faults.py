"""The answers Binance gives when an armed request-level fault (`simulators.core.faults`) fires."""

from __future__ import annotations

import time

from aiohttp import web

from simulators.binance.errors import BinanceError
from simulators.core.faults import Faults


def fault_response(faults: Faults) -> web.Response | None:
    """The answer an armed request-level fault gives instead of the API, or None."""
    if faults.take("rate_limit"):
        if faults.rate_limit_status == 418:
            banned_until = int(time.time() * 1000) + faults.retry_after * 1000
            msg = f"Way too many requests; IP(127.0.0.1) banned until {banned_until}. Please use WebSocket Streams."
        else:
            msg = "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."
        error = BinanceError(
            -1003, msg, status=faults.rate_limit_status, headers={"Retry-After": str(faults.retry_after)}
        )
        return web.json_response(error.body(), status=error.status, headers=error.headers)
    if faults.take("forbidden"):
        return web.Response(
            status=403, text="<html><body><h1>403 Forbidden</h1></body></html>", content_type="text/html"
        )
    if faults.take("status_5xx"):
        return web.Response(status=faults.status_code, text="Service Unavailable.", content_type="text/plain")
    return None
