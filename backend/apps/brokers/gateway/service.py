"""The gateway's loop: read requests, run them per broker in order, reply, publish fills.

The requests of one broker that are waiting together run as one batch: on a paper account
they form one unit of work whose changes are committed once, and only then are their replies
sent (together, with one acknowledgement), so an answer never leaves before what it says is
durable, and a burst costs one commit per batch instead of one per request.

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
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
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
from trading.errors import ConfigurationError, TemporaryError, TradingError
from trading.exchange import Exchange
from trading.orders import OrderState
from trading.paper.exchange import PriceBoard

logger = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 120
REPLY_RETRY_SECONDS = (0.02, 0.05, 0.1, 0.2, 0.5)  # waits between tries of a reply while Redis is away
BALANCE_CHECK_SECONDS = 60.0  # every book's balances against the open positions, this often
BALANCE_CONFIRM_SECONDS = 2.0  # a difference is written only if it is still there this much later

BATCH_MAX = 100  # requests of one broker run, committed and answered together at most

Job = Callable[[], Awaitable[None]]
PLACEMENTS = (GatewayOp.CREATE_ORDER, GatewayOp.CREATE_PROTECTION)
_PLACEMENT_ID_PARAMS = ("client_order_id", "stop_loss_client_order_id", "take_profit_client_order_id")


def _placement_ids(params: dict[str, Any]) -> list[str]:
    """The client order ids a placement request would create."""
    return [str(params[name]) for name in _PLACEMENT_ID_PARAMS if params.get(name)]


@dataclass(frozen=True)
class _Pending:
    """A request read from the stream, waiting in its broker's queue."""

    entry_id: str
    request: GatewayRequest
    claimed: bool = False  # delivered to a gateway that died, which may have sent it


Item = Job | _Pending


def _unit_of(exchange: Exchange) -> AbstractAsyncContextManager[None] | None:
    """The exchange's unit of work when it keeps its own records (the paper exchange): the
    calls made inside are committed together when it ends. None: each call is final when it returns."""
    unit = getattr(exchange, "unit_of_work", None)
    return unit() if unit is not None else None


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
        self._queues: dict[int, asyncio.Queue[Item]] = {}
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
        self._enqueue(request.broker_id, _Pending(entry, request, claimed))

    async def _ack(self, entry_id: str) -> None:
        await self.redis.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, entry_id)

    def _enqueue_job(self, broker_id: int, job: Job) -> None:
        """Jobs of one broker run one at a time, in the order queued, requests included."""
        self._enqueue(broker_id, job)

    def _enqueue(self, broker_id: int, item: Item) -> None:
        queue = self._queues.get(broker_id)
        if queue is None:
            queue = self._queues[broker_id] = asyncio.Queue()
            self._workers[broker_id] = asyncio.create_task(self._serve(queue))
        queue.put_nowait(item)

    async def _serve(self, queue: asyncio.Queue[Item]) -> None:
        """Run the broker's items in order; the requests waiting together run as one batch."""
        while True:
            item: Item | None = await queue.get()
            batch: list[_Pending] = []
            while isinstance(item, _Pending):
                batch.append(item)
                item = queue.get_nowait() if len(batch) < BATCH_MAX and not queue.empty() else None
            try:
                if batch:
                    await self._guarded(self.process_batch(batch))
                if item is not None:
                    await self._guarded(item())
            finally:
                for _ in range(len(batch) + (item is not None)):
                    queue.task_done()

    @staticmethod
    async def _guarded(work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            logger.exception("gateway job failed unexpectedly")

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
        """Run one request, reply, acknowledge."""
        await self.process_batch([_Pending(entry_id, request)])

    async def process_batch(self, batch: list[_Pending]) -> None:
        """Run requests of one broker in order, then reply and acknowledge.

        Consecutive requests to one paper account run inside its unit of work: their changes are
        committed once, and their replies leave together only after that commit (one round trip
        to Redis). If the commit fails, nothing they did happened: each is answered with a
        temporary error and the caller asks again. A request to a live exchange is answered as
        soon as it returns. A request past its deadline is dropped unrun.
        """
        unit: tuple[Exchange, AbstractAsyncContextManager[None]] | None = None
        held: list[tuple[_Pending, GatewayReply]] = []

        async def unit_end() -> None:
            nonlocal unit, held
            if unit is None:
                return
            _exchange, context = unit
            unit = None
            try:
                await context.__aexit__(None, None, None)
            except Exception as exc:
                broker_id = batch[0].request.broker_id
                logger.error("broker %s: changes of %d request(s) not saved: %r", broker_id, len(held), exc)
                error = TemporaryError(f"the paper account could not be saved, nothing was done: {exc}")
                held = [(pending, GatewayReply.failure(pending.request.request_id, error)) for pending, _ in held]
            replies, held = held, []
            await self._reply_many(replies)

        for pending in batch:
            request = pending.request
            if request.deadline_ms and time.time() * 1000 > request.deadline_ms:
                logger.warning(
                    "dropping %s %s for broker %s: its caller gave up",
                    request.op,
                    request.request_id,
                    request.broker_id,
                )
                await self._ack(pending.entry_id)
                continue
            exchange: Exchange | None = None
            if request.op is not GatewayOp.PRICE_UPDATE:
                try:
                    exchange = await self.registry.get(request.broker_id, force_paper=request.force_paper)
                except Exception as exc:
                    await unit_end()
                    await self._reply_many([(pending, self._failure(request, exc))])
                    continue
            if unit is not None and unit[0] is not exchange:
                await unit_end()
            if unit is None and exchange is not None and (context := _unit_of(exchange)) is not None:
                try:
                    await context.__aenter__()
                except Exception as exc:  # the book cannot be read back after a failed save
                    await self._reply_many([(pending, self._failure(request, exc))])
                    continue
                unit = (exchange, context)
            if pending.claimed and exchange is not None and request.op in PLACEMENTS:
                # The last gateway may have sent it just before it died, and it can still reach
                # the exchange: the adapter looks for it once it no longer can, here and on any retry.
                exchange.placements_unknown(_placement_ids(request.params))
            reply = await self._answer(request, exchange)
            if unit is not None:
                held.append((pending, reply))
            else:
                await self._reply_many([(pending, reply)])
        await unit_end()

    async def _answer(self, request: GatewayRequest, exchange: Exchange | None) -> GatewayReply:
        """Run one request; its reply, an error the exchange raised included."""
        try:
            if exchange is None:
                result = await self.price_update(request.params)
            else:
                result = await handle(exchange, request.op, request.params)
            return GatewayReply(request.request_id, True, result)
        except Exception as exc:
            return self._failure(request, exc)

    @staticmethod
    def _failure(request: GatewayRequest, exc: Exception) -> GatewayReply:
        if isinstance(exc, TradingError):
            return GatewayReply.failure(request.request_id, exc)
        logger.error("gateway %s for broker %s failed", request.op, request.broker_id, exc_info=exc)
        return GatewayReply.failure(request.request_id, TradingError(f"gateway error: {type(exc).__name__}"))

    async def _reply_many(self, replies: list[tuple[_Pending, GatewayReply]]) -> None:
        """Push the replies and acknowledge their requests in one round trip; while Redis is
        unreachable (a restart, a stale connection) try again, for as long as a reply would live."""
        if not replies:
            return
        give_up = time.monotonic() + REPLY_TTL_SECONDS
        failures = 0
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for pending, reply in replies:
                        pipe.lpush(pending.request.reply_key, reply.to_json())
                        pipe.expire(pending.request.reply_key, REPLY_TTL_SECONDS)
                    pipe.xack(EXCHANGE_REQUESTS, GATEWAY_GROUP, *(pending.entry_id for pending, _ in replies))
                    await pipe.execute()
                break
            except (RedisConnectionError, RedisTimeoutError) as exc:
                ops = ", ".join(sorted({str(pending.request.op) for pending, _ in replies}))
                if time.monotonic() > give_up:
                    logger.error("%d repl(ies) to %s lost: Redis unreachable (%s)", len(replies), ops, exc)
                    return
                self._redis_warnings.warning("reply to %s not sent yet, Redis unreachable: %s", ops, exc)
                await asyncio.sleep(REPLY_RETRY_SECONDS[min(failures, len(REPLY_RETRY_SECONDS) - 1)])
                failures += 1
        self.handled += len(replies)

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
