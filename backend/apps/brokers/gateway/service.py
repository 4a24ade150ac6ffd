"""The gateway's loop: read requests, run them per broker in order, reply, publish fills."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from apps.brokers.gateway.handlers import handle
from apps.brokers.gateway.registry import ExchangeRegistry
from apps.core.streams import (
    EXCHANGE_EVENTS,
    EXCHANGE_REQUESTS,
    GATEWAY_GROUP,
    ExchangeEvent,
    GatewayOp,
    GatewayReply,
    GatewayRequest,
)
from trading.errors import ConfigurationError, TradingError
from trading.orders import OrderState
from trading.paper.exchange import PriceBoard

logger = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 120


class GatewayService:
    """Serves `exchange_requests`: requests of one broker run one at a time, in stream order;
    brokers run concurrently."""

    def __init__(self, client: aioredis.Redis, *, consumer: str | None = None) -> None:
        self.redis = client
        self.consumer = consumer or f"gateway-{socket.gethostname()}"
        self.prices = PriceBoard()
        self.registry = ExchangeRegistry(prices=self.prices)
        self._queues: dict[int, asyncio.Queue[tuple[str, GatewayRequest]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self.handled = 0

    async def start(self) -> None:
        try:
            # From the start of the stream: a request sent before the first gateway ever ran is
            # answered too (old ones are dropped by their deadline).
            await self.redis.xgroup_create(EXCHANGE_REQUESTS, GATEWAY_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        loaded = await self.registry.load_paper_accounts()
        logger.info("gateway %s ready; %d paper account(s) with resting orders loaded", self.consumer, loaded)
        await self._read(pending=True)

    async def step(self, block_ms: int = 1000) -> bool:
        """Read the next batch of requests and queue them; True when there were any."""
        return await self._read(pending=False, block_ms=block_ms)

    async def _read(self, *, pending: bool, block_ms: int = 1000) -> bool:
        response: Any = await self.redis.xreadgroup(
            GATEWAY_GROUP,
            self.consumer,
            {EXCHANGE_REQUESTS: "0" if pending else ">"},
            count=100,
            block=None if pending else block_ms,
        )
        count = 0
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                count += 1
                entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                try:
                    request = GatewayRequest.from_fields(fields)
                except (KeyError, ValueError) as exc:
                    logger.error("dropping malformed gateway request %s: %s", entry, exc)
                    await self.redis.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, entry)
                    continue
                self._enqueue(entry, request)
        return count > 0

    def _enqueue(self, entry_id: str, request: GatewayRequest) -> None:
        queue = self._queues.get(request.broker_id)
        if queue is None:
            queue = self._queues[request.broker_id] = asyncio.Queue()
            self._workers[request.broker_id] = asyncio.create_task(self._serve(queue))
        queue.put_nowait((entry_id, request))

    async def _serve(self, queue: asyncio.Queue[tuple[str, GatewayRequest]]) -> None:
        while True:
            entry_id, request = await queue.get()
            try:
                await self.process(entry_id, request)
            except Exception:
                logger.exception("gateway request %s (%s) failed unexpectedly", request.request_id, request.op)
            finally:
                queue.task_done()

    async def process(self, entry_id: str, request: GatewayRequest) -> None:
        """Run one request, reply, acknowledge. A request past its deadline is dropped unrun."""
        if request.deadline_ms and time.time() * 1000 > request.deadline_ms:
            logger.warning(
                "dropping %s %s for broker %s: its caller gave up", request.op, request.request_id, request.broker_id
            )
            await self.redis.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, entry_id)
            return
        try:
            result = await self._run(request)
            reply = GatewayReply(request.request_id, True, result)
        except TradingError as exc:
            reply = GatewayReply.failure(request.request_id, exc)
        except Exception as exc:
            logger.exception("gateway %s for broker %s failed", request.op, request.broker_id)
            reply = GatewayReply.failure(request.request_id, TradingError(f"gateway error: {type(exc).__name__}"))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(request.reply_key, reply.to_json())
            pipe.expire(request.reply_key, REPLY_TTL_SECONDS)
            pipe.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, entry_id)
            await pipe.execute()
        self.handled += 1

    async def _run(self, request: GatewayRequest) -> Any:
        if request.op is GatewayOp.PRICE_UPDATE:
            return await self.price_update(request.params)
        exchange = await self.registry.get(request.broker_id, force_paper=request.force_paper)
        return await handle(exchange, request.op, request.params)

    async def price_update(self, params: dict[str, Any]) -> dict[str, int]:
        """A new market price: every paper account fills what it crosses; fills are published."""
        symbol = str(params.get("symbol") or "")
        if not symbol or params.get("last") in (None, ""):
            raise ConfigurationError("price_update needs 'symbol' and 'last'")
        last = Decimal(str(params["last"]))
        low = Decimal(str(params["low"])) if params.get("low") not in (None, "") else None
        high = Decimal(str(params["high"])) if params.get("high") not in (None, "") else None
        self.prices.update(symbol, last=last, low=low, high=high)
        changed = 0
        for broker_id, exchange in self.registry.paper_items():
            states = await exchange.on_price(symbol, last=last, low=low, high=high)
            await self.publish(broker_id, states, paper=True)
            changed += len(states)
        return {"changed": changed}

    async def publish(self, broker_id: int, states: list[OrderState], *, paper: bool) -> None:
        for state in states:
            event = ExchangeEvent(broker_id, state, paper)
            await self.redis.xadd(EXCHANGE_EVENTS, event.to_fields())  # type: ignore[arg-type]

    async def drain(self) -> None:
        """Wait until every queued request has been answered (clean shutdown)."""
        for queue in list(self._queues.values()):
            await queue.join()

    async def close(self) -> None:
        await self.drain()
        for task in self._workers.values():
            task.cancel()
        await self.registry.close()
