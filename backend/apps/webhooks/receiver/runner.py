"""How the receiver is served: aiohttp's connection limits and timeouts, the connection cap, one-line HTTP errors.

aiohttp gives: `keepalive_timeout` (also started when a connection opens, so a client that trickles
its request head or sends nothing is closed once it runs out), header size limits, and a body size
limit (`client_max_size`, set on the app). It lacks a body read timeout (handlers.py bounds the read)
and a cap on open connections (connections.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from apps.core.throttle import LogThrottle
from apps.webhooks.receiver.config import ReceiverConfig
from apps.webhooks.receiver.connections import ConnectionGuard

logger = logging.getLogger("apps.webhooks.receiver.http")

MAX_HEADERS = 64  # TradingView sends about ten; a proxy adds a few
LINGER_SECONDS = 1.0  # after an early answer (408, 413), how long the rest of a body is read and dropped
MALFORMED_LOG_EVERY = 10.0  # seconds between two lines about malformed requests (the rest are counted)


class HttpErrorLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger: a malformed request or a client gone mid-request is the client's doing,
    logged as one line (at most one per MALFORMED_LOG_EVERY, the rest counted), not a traceback."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__(target, {})
        self._malformed = LogThrottle(target, every=MALFORMED_LOG_EVERY)
        self._disconnected = LogThrottle(target, every=MALFORMED_LOG_EVERY)

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else None
        peer = args[0] if args else "?"
        if isinstance(error, HttpProcessingError):
            self._malformed.warning("malformed HTTP request from %s: %s", peer, _one_line(error))
            return
        if isinstance(error, ConnectionError):  # handlers.py drops these; a read elsewhere may still meet one
            self._disconnected.warning("client %s disconnected mid-request: %s", peer, _one_line(error))
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


def _one_line(error: BaseException) -> str:
    message = error.message if isinstance(error, HttpProcessingError) else str(error)
    text = " ".join(str(message or type(error).__name__).split())
    return text if len(text) <= 200 else text[:197] + "..."


def receiver_runner(app: web.Application, config: ReceiverConfig, *, shutdown_timeout: float) -> web.AppRunner:
    """An AppRunner with the receiver's timeouts and limits on every connection."""
    return web.AppRunner(
        app,
        access_log=None,  # URLs hold tokens
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=config.idle_timeout,
        max_headers=MAX_HEADERS,
        lingering_time=LINGER_SECONDS,  # aiohttp's 10 s would let a slow body hold its connection past the 408
        auto_decompress=False,  # TradingView does not compress; no decompression bombs
        logger=HttpErrorLog(logging.getLogger("aiohttp.server")),
    )


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through the receiver's ConnectionGuard."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, guard: ConnectionGuard, backlog: int) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (useful after asking for port 0)."""
        if self._server is not None and getattr(self._server, "sockets", None):
            return int(self._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None, "runner.setup() comes first"
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), self._host, self._port, backlog=self._backlog, reuse_address=True
        )
