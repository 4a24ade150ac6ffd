"""The gateway's loop: read requests, run them per broker in order, reply, publish fills.

At start it answers the requests a killed gateway left unanswered (unless their caller gave
up), then reconciles every broker's book with the records (`reconcile.py`) before new
requests of that broker run. A reply that fails on a lost Redis connection is sent again
until Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.brokers.gateway.handlers import handle
from apps.brokers.gateway.reconcile import (
    Book,
    book_balances_check,
    book_orders_reconcile,
    book_warnings_write,
    books_to_reconcile,
)
from apps.brokers.gateway.registry import ExchangeRegistry
from apps.core.streams import (
    EXCHANGE_EVENTS,
    EXCHANGE_REQUESTS,
    GATEWAY_GROUP,
    ExchangeEvent,
    GatewayOp,
    GatewayReply,
    GatewayRequest,
    text,
)
from apps.core.throttle import LogThrottle
from trading.errors import ConfigurationError, TradingError
from trading.exchange import Exchange
from trading.orders import OrderState
from trading.paper.exchange import PriceBoard

logger = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 120
REPLY_RETRY_SECONDS = (0.02, 0.05, 0.1, 0.2, 0.5)  # waits between tries of a reply while Redis is away
BALANCE_CHECK_SECONDS = 60.0  # every book's balances against the open positions, this often
BALANCE_CONFIRM_SECONDS = 2.0  # a difference is written only if it is still there this much later

Job = Callable[[], Awaitable[None]]
PLACEMENTS = (GatewayOp.CREATE_ORDER, GatewayOp.CREATE_PROTECTION)
_PLACEMENT_ID_PARAMS = ("client_order_id", "stop_loss_client_order_id", "take_profit_client_order_id")


def _placement_ids(params: dict[str, Any]) -> list[str]:
    """The client order ids a placement request would create."""
    return [str(params[name]) for name in _PLACEMENT_ID_PARAMS if params.get(name)]


class GatewayService:
    """Serves `exchange_requests`: requests of one broker run one at a time, in stream order;
    brokers run concurrently."""

    def __init__(self, client: aioredis.Redis, *, consumer: str | None = None, reconcile: bool = True) -> None:
        """`reconcile`: compare every book with the records at start and check balances periodically."""
        self.redis = client
        self.consumer = consumer or f"gateway-{socket.gethostname()}"
        self.prices = PriceBoard()
        self.registry = ExchangeRegistry(prices=self.prices)
        self.reconcile = reconcile
        self._queues: dict[int, asyncio.Queue[Job]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._next_check = 0.0
        self._redis_warnings = LogThrottle(logger)
        self.handled = 0

    async def start(self) -> None:
        await self._group_ensure()
        loaded = await self.registry.load_paper_accounts()
        logger.info("gateway %s ready; %d paper account(s) with resting orders loaded", self.consumer, loaded)
        pending = await self._claim_pending()
        if pending:
            logger.info("answering %d request(s) left unanswered by the last gateway", pending)
        if self.reconcile:
            for book in await sync_to_async(books_to_reconcile, thread_sensitive=True)():
                self._enqueue_job(book.broker_id, self._book_job(book))
            self._next_check = time.monotonic() + BALANCE_CHECK_SECONDS

    async def _group_ensure(self) -> None:
        try:
            # From the start of the stream: a request sent before the first gateway ever ran is
            # answered too (old ones are dropped by their deadline).
            await self.redis.xgroup_create(EXCHANGE_REQUESTS, GATEWAY_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _claim_pending(self) -> int:
        """Take every request delivered before and never acknowledged (to this consumer or to a
        gateway under another name, such as a container that was replaced) and queue it, in
        stream order. One gateway runs at a time, so nobody else is working on them."""
        count, cursor = 0, "0-0"
        while True:
            answer: Any = await self.redis.xautoclaim(
                EXCHANGE_REQUESTS, GATEWAY_GROUP, self.consumer, min_idle_time=0, start_id=cursor, count=100
            )
            cursor, entries = text(answer[0]), answer[1]
            for entry_id, fields in entries:
                if fields:
                    self._queue_entry(text(entry_id), fields, claimed=True)
                    count += 1
            deleted = answer[2] if len(answer) > 2 else []
            if deleted:  # trimmed away while pending: nothing left to answer
                await self.redis.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, *deleted)
            if cursor == "0-0":
                return count

    async def step(self, block_ms: int = 1000) -> bool:
        """Read the next batch of requests and queue them; True when there were any."""
        if self.reconcile and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + BALANCE_CHECK_SECONDS
            for book in await sync_to_async(books_to_reconcile, thread_sensitive=True)():
                self._enqueue_job(book.broker_id, self._balances_job(book, confirm=True))
        try:
            return await self._read(block_ms=block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis came back without its data (no AOF): make the group again and go on.
            logger.warning("the gateway's consumer group was gone; created again")
            await self._group_ensure()
            return False

    async def _read(self, *, block_ms: int = 1000) -> bool:
        response: Any = await self.redis.xreadgroup(
            GATEWAY_GROUP, self.consumer, {EXCHANGE_REQUESTS: ">"}, count=100, block=block_ms
        )
        count = 0
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                count += 1
                self._queue_entry(text(entry_id), fields)
        return count > 0

    def _queue_entry(self, entry: str, fields: Any, *, claimed: bool = False) -> None:
        """Queue a request; `claimed`: delivered to a gateway that died, which may have sent it."""
        try:
            request = GatewayRequest.from_fields(fields)
        except (KeyError, ValueError) as exc:
            logger.error("dropping malformed gateway request %s: %s", entry, exc)
            self._enqueue_job(-1, lambda: self._ack(entry))
            return
        if claimed and request.op in PLACEMENTS:
            self._enqueue_job(request.broker_id, lambda: self._process_claimed(entry, request))
        else:
            self._enqueue_job(request.broker_id, lambda: self.process(entry, request))

    async def _process_claimed(self, entry_id: str, request: GatewayRequest) -> None:
        """A placement the last gateway may have sent just before it died can still reach the
        exchange: its adapter looks for it only once it no longer can, here and on any retry."""
        try:
            exchange = await self.registry.get(request.broker_id, force_paper=request.force_paper)
        except Exception as exc:  # process() answers with the reason
            logger.info("broker %s: no exchange for a claimed placement: %s", request.broker_id, exc)
        else:
            exchange.placements_unknown(_placement_ids(request.params))
        await self.process(entry_id, request)

    async def _ack(self, entry_id: str) -> None:
        await self.redis.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, entry_id)

    def _enqueue_job(self, broker_id: int, job: Job) -> None:
        """Jobs of one broker run one at a time, in the order queued."""
        queue = self._queues.get(broker_id)
        if queue is None:
            queue = self._queues[broker_id] = asyncio.Queue()
            self._workers[broker_id] = asyncio.create_task(self._serve(queue))
        queue.put_nowait(job)

    async def _serve(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await job()
            except Exception:
                logger.exception("gateway job failed unexpectedly")
            finally:
                queue.task_done()

    # Reconciliation ------------------------------------------------------------------------

    def _book_job(self, book: Book) -> Job:
        async def job() -> None:
            exchange = await self._book_exchange(book)
            if exchange is None:
                return
            try:
                repairs = await book_orders_reconcile(book, exchange, self._publish_for(book))
            except TradingError as exc:
                logger.warning("broker #%s: its book could not be reconciled at start: %s", book.broker_id, exc)
                return
            if repairs.report or repairs.missing:
                # Let the engine apply what was reported before the balances are compared.
                self._enqueue_later(book.broker_id, self._balances_job(book, confirm=True), BALANCE_CONFIRM_SECONDS)
            else:
                await self._balances_job(book, confirm=True)()

        return job

    def _balances_job(self, book: Book, *, confirm: bool) -> Job:
        """Compare the balances; agreement is written at once, a difference only when a second
        look `BALANCE_CONFIRM_SECONDS` later (the engine may be applying an answer) still sees it."""

        async def job() -> None:
            exchange = await self._book_exchange(book)
            if exchange is None:
                return
            try:
                checks = await book_balances_check(book, exchange)
            except TradingError as exc:
                logger.warning("broker #%s: balances not compared: %s", book.broker_id, exc)
                return
            differ = [check for check in checks if check.warning]
            if confirm and differ:
                await book_warnings_write(book, [check for check in checks if not check.warning])
                self._enqueue_later(book.broker_id, self._balances_job(book, confirm=False), BALANCE_CONFIRM_SECONDS)
                return
            await book_warnings_write(book, checks)

        return job

    def _enqueue_later(self, broker_id: int, job: Job, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self._enqueue_job, broker_id, job)

    async def _book_exchange(self, book: Book) -> Exchange | None:
        try:
            return await self.registry.get(book.broker_id, force_paper=book.paper)
        except Exception as exc:  # keys that no longer decrypt, an exchange ccxt lacks: say so, go on
            logger.warning("broker #%s: its book is not reconciled: %s", book.broker_id, exc)
            return None

    def _publish_for(self, book: Book) -> Callable[[int, list[OrderState]], Awaitable[None]]:
        async def publish(broker_id: int, states: list[OrderState]) -> None:
            await self.publish(broker_id, states, paper=book.paper)

        return publish

    # Requests ------------------------------------------------------------------------------

    async def process(self, entry_id: str, request: GatewayRequest) -> None:
        """Run one request, reply, acknowledge. A request past its deadline is dropped unrun."""
        if request.deadline_ms and time.time() * 1000 > request.deadline_ms:
            logger.warning(
                "dropping %s %s for broker %s: its caller gave up", request.op, request.request_id, request.broker_id
            )
            await self._ack(entry_id)
            return
        try:
            result = await self._run(request)
            reply = GatewayReply(request.request_id, True, result)
        except TradingError as exc:
            reply = GatewayReply.failure(request.request_id, exc)
        except Exception as exc:
            logger.exception("gateway %s for broker %s failed", request.op, request.broker_id)
            reply = GatewayReply.failure(request.request_id, TradingError(f"gateway error: {type(exc).__name__}"))
        await self._reply(entry_id, request, reply)
        self.handled += 1

    async def _reply(self, entry_id: str, request: GatewayRequest, reply: GatewayReply) -> None:
        """Push the reply and acknowledge the request; while Redis is unreachable (a restart, a
        stale connection) try again, for as long as the reply would live."""
        give_up = time.monotonic() + REPLY_TTL_SECONDS
        failures = 0
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.lpush(request.reply_key, reply.to_json())
                    pipe.expire(request.reply_key, REPLY_TTL_SECONDS)
                    pipe.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, entry_id)
                    await pipe.execute()
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if time.monotonic() > give_up:
                    logger.error("reply to %s %s lost: Redis unreachable (%s)", request.op, request.request_id, exc)
                    return
                self._redis_warnings.warning("reply to %s not sent yet, Redis unreachable: %s", request.op, exc)
                await asyncio.sleep(REPLY_RETRY_SECONDS[min(failures, len(REPLY_RETRY_SECONDS) - 1)])
                failures += 1

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
        """Tell the engine about orders that changed on their own (fills of resting orders)."""
        if not states:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for state in states:
                pipe.xadd(EXCHANGE_EVENTS, ExchangeEvent(broker_id, state, paper).to_fields())  # type: ignore[arg-type]
            await pipe.execute()

    async def drain(self) -> None:
        """Wait until every queued request has been answered (clean shutdown)."""
        for queue in list(self._queues.values()):
            await queue.join()

    async def close(self) -> None:
        await self.drain()
        for task in self._workers.values():
            task.cancel()
        await self.registry.close()
