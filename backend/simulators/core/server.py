"""Run a simulated exchange on a host and port: in tests (`async with`) or until a signal (`serve`)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Self

from aiohttp import web

from simulators.core.state import Simulator

DEFAULT_HOST = "127.0.0.1"


class SimulatorServer:
    """A simulator's web application listening on host:port (port 0 picks a free one); `base_url`
    once started. Each exchange's package says which application with `create_app`."""

    def __init__(self, simulator: Simulator, *, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.simulator = simulator
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def create_app(self) -> web.Application:
        """The exchange's API and the control API, on `self.simulator`."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        self.simulator.stopping.clear()
        self._runner = web.AppRunner(self.create_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            self.simulator.stopping.set()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(server: SimulatorServer, *, on_ready: Callable[[str], None]) -> None:
    """Start, call `on_ready(base_url)`, and run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        on_ready(server.base_url)
        await stop.wait()
