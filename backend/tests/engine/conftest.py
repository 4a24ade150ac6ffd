"""An engine and a gateway on a real Redis, in this process: the gateway on its own thread."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connections

from apps.brokers.gateway.service import GatewayService
from apps.brokers.models import Broker, TypeDeTrading
from apps.core.gateway_client import GatewayClient
from apps.core.streams import WEBHOOK_RAW, RawAlert
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.models import Webhook


class GatewayThread:
    """The real gateway service running on a background event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.service: GatewayService | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def start(self) -> GatewayThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("gateway did not start")
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        self.service = GatewayService(client, consumer="gateway-test")
        await self.service.start()
        self._ready.set()
        while not self._stop.is_set():
            await self.service.step(block_ms=50)
        await self.service.close()
        await client.aclose()
        await sync_to_async(connections.close_all, thread_sensitive=True)()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def gateway_service(redis_url: str, transactional_db: None) -> Iterator[GatewayThread]:
    thread = GatewayThread(redis_url).start()
    yield thread
    thread.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def gateway(redis_client: redis.Redis, gateway_service: GatewayThread) -> GatewayClient:
    return GatewayClient(redis_client, timeout_seconds=5)


@pytest.fixture
def engine(redis_client: redis.Redis, gateway: GatewayClient) -> Iterator[TradingEngine]:
    engine = TradingEngine(redis_client, gateway, consumer="engine-test", retry_idle_ms=200)
    engine.start()
    yield engine
    engine.close()


@pytest.fixture
def paper_broker(alice: Any) -> Broker:
    return Broker.objects.create(
        user=alice, name="Paper", exchange="paper", type_de_trading=TypeDeTrading.WEBHOOKS, is_default=True
    )


class AlertSender:
    """Appends alerts to `webhook_raw` as the receiver does, and runs the engine over them."""

    def __init__(self, client: redis.Redis, engine: TradingEngine, user: Any, broker: Broker) -> None:
        self.redis = client
        self.engine = engine
        self.user = user
        self.broker = broker

    def add(self, body: dict[str, Any] | str, *, user_id: int | str | None = "default") -> str:
        if isinstance(body, dict):
            body = json.dumps({"UserExchangeID": self.broker.pk, **body})
        raw = RawAlert(
            body=body,
            received_at=datetime.now(UTC).isoformat(),
            trace_id=uuid.uuid4().hex,
            user_id=self.user.pk if user_id == "default" else user_id,  # type: ignore[arg-type]
        )
        return str(self.redis.xadd(WEBHOOK_RAW, raw.to_fields()).decode())  # type: ignore[arg-type, union-attr]

    def drain(self) -> None:
        while self.engine.step(block_ms=20):
            pass

    def send(self, body: dict[str, Any] | str, **kwargs: Any) -> Webhook:
        entry = self.add(body, **kwargs)
        self.drain()
        return Webhook.objects.get(stream_id=entry)


@pytest.fixture
def alerts(redis_client: redis.Redis, engine: TradingEngine, alice: Any, paper_broker: Broker) -> AlertSender:
    return AlertSender(redis_client, engine, alice, paper_broker)


BUY_BODY = {
    "Symbol": "BTCUSDT",
    "Action": "BuyMarket",
    "PourCent": "50",
    "Prix": "40000",
    "PrixSL": "38000",
    "PrixTP": "46000",
}


def approx(value: Decimal | None, expected: str, tolerance: str = "0.01") -> bool:
    return value is not None and abs(value - Decimal(expected)) <= Decimal(tolerance)


SIM_KEY = "K" * 64
SIM_SECRET = "S" * 64


class SimulatorThread:
    """The Binance simulator on its own event loop, with its control API over HTTP."""

    def __init__(self) -> None:
        from decimal import Decimal as D

        from simulators.core.state import AccountSpec, Simulator, SimulatorConfig

        account = AccountSpec(api_key=SIM_KEY, api_secret=SIM_SECRET, balances={"USDT": D(10_000)})
        self.simulator = Simulator(SimulatorConfig(accounts=(account,), prices={"BTCUSDT": D(40_000)}))
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def _run(self) -> None:
        from simulators.binance.app import BinanceServer

        asyncio.set_event_loop(self._loop)
        self.server = BinanceServer(self.simulator)
        self.base_url = self._loop.run_until_complete(self.server.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())

    def start(self) -> SimulatorThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def control(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        import requests

        answer = requests.post(f"{self.base_url}/_sim/{path}", json=payload or {}, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def orders(self) -> list[dict[str, Any]]:
        import requests

        return list(requests.get(f"{self.base_url}/_sim/orders", timeout=5).json()["orders"])


@pytest.fixture
def simulator_thread(settings: Any) -> Iterator[SimulatorThread]:
    """The Binance simulator on loopback, allowed as a broker's base URL for this test."""
    running = SimulatorThread().start()
    settings.EXCHANGE_BASE_URL_ALLOWLIST = [*settings.EXCHANGE_BASE_URL_ALLOWLIST, running.base_url]
    yield running
    running.stop()


@pytest.fixture
def binance_broker(alice: Any, simulator_thread: SimulatorThread) -> Broker:
    broker = Broker(
        user=alice,
        name="Binance sim",
        exchange="binance",
        api_base_url=simulator_thread.base_url,
        type_de_trading=TypeDeTrading.WEBHOOKS,
        is_default=True,
    )
    broker.set_credentials(api_key=SIM_KEY, api_secret=SIM_SECRET)
    broker.save()
    return broker


@pytest.fixture
def live_alerts(redis_client: redis.Redis, engine: TradingEngine, alice: Any, binance_broker: Broker) -> AlertSender:
    return AlertSender(redis_client, engine, alice, binance_broker)


def eventually(condition: Any, *, timeout: float = 3.0) -> bool:
    """True once `condition()` is; for what is written just behind an answer (paper saves)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())
