"""The engine's stream consumer: alerts, exchange events and heartbeat candles in, each
acknowledged only once its outcome is recorded.

One engine is active at a time: it holds the seat (`seat`: a database or kernel lock) and reads
every stream through the consumer group `engine`; other engines stand by and take the seat,
with whatever it left pending, the moment it is free. Inside the active engine a batch runs its
partitions (one user and market each, `partitions`) on a thread pool, each partition in stream
order and none past its first failure. Unfinished entries are taken up again (`retries`); the
periodic jobs (reconciliation, trimming, stale prices) run on a thread of their own (`jobs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, connections

from apps.brokers.models import Broker
from apps.core.gateway_client import GatewayClient
from apps.core.streams import (
    ENGINE_GROUP,
    EXCHANGE_EVENTS,
    HEARTBEAT,
    STREAM_KEEP_SECONDS,
    WEBHOOK_RAW,
    ExchangeEvent,
    entry_order,
    text,
)
from apps.core.trim import stream_trim_acknowledged
from apps.webhooks.engine.dedup import Deduplicator
from apps.webhooks.engine.entries import EntryHandler
from apps.webhooks.engine.failures import failure_text
from apps.webhooks.engine.groups import groups_prepare
from apps.webhooks.engine.jobs import Job, PeriodicJobs
from apps.webhooks.engine.market import StalePrices
from apps.webhooks.engine.partitions import HEARTBEAT_PREFIX, Partitioner
from apps.webhooks.engine.passes import BackgroundPasses, PartitionClaims
from apps.webhooks.engine.reconcile import Down, orders_reconcile, partition_work, positions_protect_again
from apps.webhooks.engine.recording import BrokerDirectory
from apps.webhooks.engine.retries import Retries
from apps.webhooks.engine.seat import EngineSeat
from trading.errors import TemporaryError
from trading.markets import Market

logger = logging.getLogger("aristobot.engine")

STREAMS = (WEBHOOK_RAW, EXCHANGE_EVENTS, HEARTBEAT)
TRIM_EVERY_SECONDS = 300
RECONCILE_EVERY_SECONDS = 10
STALE_PRICES_EVERY_SECONDS = 60
READ_COUNT = 100
STANDBY_POLL_SECONDS = 0.25  # how often a standby engine tries the seat

Entry = tuple[str, str, dict[Any, Any]]  # stream, entry id, fields
Done = list[tuple[str, str]]  # stream, entry id; list.append is atomic


class TradingEngine:
    """One engine process. `step()` handles one batch and returns whether there was work."""

    def __init__(
        self,
        client: redis.Redis,
        gateway: GatewayClient,
        *,
        consumer: str | None = None,
        retry_idle_ms: int = 5000,
        max_deliveries: int | None = None,
        threads: int | None = None,
        seat: EngineSeat | None = None,
    ) -> None:
        self.redis = client
        self.gateway = gateway
        self.consumer = consumer or f"engine-{socket.gethostname()}-{os.getpid()}"
        self.retry_idle_ms = retry_idle_ms
        self.dedup = Deduplicator(client, window_seconds=settings.ALERT_DEDUP_WINDOW_SECONDS)
        self.brokers = BrokerDirectory(client)
        self.partitions = Partitioner(self.brokers, self._markets_cached)
        self.stale_prices = StalePrices(client, max_age_seconds=settings.HEARTBEAT_STALE_SECONDS, check_every=0)
        self.seat = seat or EngineSeat()
        self.claims = PartitionClaims()
        self.passes = BackgroundPasses(gateway, self.claims, active=self._holds_seat)
        self.retries = Retries(
            client,
            consumer=self.consumer,
            streams=STREAMS,
            idle_ms=retry_idle_ms,
            max_deliveries=max_deliveries or settings.ALERT_MAX_DELIVERIES,
            claims=self.claims,
            partition_of=self._partition,
            handle=lambda stream, entry_id, fields: self.handle(stream, entry_id, fields),
        )
        self.entries = EntryHandler(gateway, brokers=self.brokers, dedup=self.dedup, retries=self.retries)
        self.jobs = PeriodicJobs(
            [
                Job("reconciliation", RECONCILE_EVERY_SECONDS, self.passes.due),
                Job("stale prices", STALE_PRICES_EVERY_SECONDS, self.stale_prices.check),
                Job("trimming", TRIM_EVERY_SECONDS, self._trim),
            ],
            active=self._holds_seat,
        )
        self._threads = settings.ENGINE_THREADS if threads is None else threads
        self._pool = (
            ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="engine") if self._threads > 1 else None
        )
        self._active = False  # whether we hold the seat and took over what it left pending
        self._held: dict[str, set[str]] = {}  # partition → entries waiting behind an unfinished one
        self._last_retry_scan = 0.0
        self._started = False
        self.processed = 0

    @property
    def max_deliveries(self) -> int:
        """Deliveries after which an entry goes to the dead-letter stream."""
        return self.retries.max_deliveries

    @max_deliveries.setter
    def max_deliveries(self, count: int) -> None:
        self.retries.max_deliveries = count

    @property
    def active(self) -> bool:
        """Whether this engine is the active one (else it stands by)."""
        return self._active

    def start(self) -> None:
        """Start the periodic jobs and take the seat if it is free (taking over what the last
        active engine left pending); a standby engine tries again at every `step()`."""
        self._started = True
        self.jobs.start()
        self._seat_follow()

    def step(self, block_ms: int = 1000) -> bool:
        close_old_connections()
        if not self._started:
            self.start()
        if not self._seat_follow():
            time.sleep(STANDBY_POLL_SECONDS)
            return False
        released = self.claims.released.is_set()  # entries held for the pass can run now
        if released or time.monotonic() - self._last_retry_scan > self.retry_idle_ms / 1000:
            self.claims.released.clear()
            self._last_retry_scan = time.monotonic()
            self._held = self.retries.run(self._held)
        response: Any = self.redis.xreadgroup(
            ENGINE_GROUP, self.consumer, dict.fromkeys(STREAMS, ">"), count=READ_COUNT, block=block_ms or None
        )
        # A broker or user changed since the last batch is read again (retries above use the
        # previous batch's view, at most one step old).
        self.brokers.refresh()
        return self._handle_batch(response or [], first_delivery=True) > 0

    def close(self) -> None:
        """Stop the jobs and the worker threads (their database connections close with them) and
        give the seat to a standby engine."""
        self.jobs.close()
        self.passes.close()
        if self._pool is not None:
            workers = self._threads
            barrier = threading.Barrier(workers)

            def close_mine() -> None:  # one task per thread: the barrier keeps each on its own
                connections.close_all()
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=5)

            for future in [self._pool.submit(close_mine) for _ in range(workers)]:
                future.result()
            self._pool.shutdown(wait=True)
            self._pool = None
        self._active = False
        self.seat.release()

    # The seat --------------------------------------------------------------------------

    def _holds_seat(self) -> bool:
        return self._active and self.seat.held

    def _seat_follow(self) -> bool:
        """Before each batch: whether we are (still, or now) the active engine."""
        if self._active:
            if self.seat.check():
                return True
            self._active = False
            self._held = {}  # the next active engine takes them up, in order
            return False
        if not self.seat.take():
            return False
        logger.info("engine %s is the active engine", self.consumer)
        try:
            self._take_over()
        except Exception:
            self._active = False
            self.seat.release()  # let a standby (or our next step) try again from the start
            raise
        self._active = True
        return True

    def _take_over(self) -> None:
        """Lay out the group, claim what the previous active engine left pending, look up live
        orders and protect positions again, then finish the pending entries in stream order."""
        groups_prepare(self.redis, STREAMS)
        for stream in STREAMS:
            start = "-"
            while True:
                page: Any = self.redis.xpending_range(stream, ENGINE_GROUP, min=start, max="+", count=1000)
                theirs = [item["message_id"] for item in page if text(item["consumer"]) != self.consumer]
                if theirs:  # JUSTID: moving an entry is not a delivery attempt
                    self.redis.xclaim(stream, ENGINE_GROUP, self.consumer, 0, theirs, justid=True)
                if len(page) < 1000:
                    break
                start = "(" + text(page[-1]["message_id"])
        down: Down = set()  # an exchange that does not answer is asked once, not once per order
        self._markets_warm(down)
        orders_reconcile(self.gateway, down=down)
        positions_protect_again(self.gateway, down=down)
        self._active = True
        after: Any = dict.fromkeys(STREAMS, "0")
        while True:
            response: Any = self.redis.xreadgroup(ENGINE_GROUP, self.consumer, after, count=READ_COUNT)
            pages = [(text(stream), entries) for stream, entries in response or [] if entries]
            if not pages:
                return
            for stream, entries in pages:
                after[stream] = text(entries[-1][0])
            self._handle_batch(pages)

    def _markets_cached(self, broker: Broker) -> dict[str, Market] | None:
        """The markets an alert of `broker` resolves its symbol with, if loaded (no gateway call)."""
        return self.gateway.routed(paper=self.gateway.force_paper or broker.is_paper).markets_cached(broker.pk)

    def _markets_warm(self, down: Down) -> None:
        """Load the markets of brokers with open orders or positions before the first batch, so
        that their alerts are partitioned with the fills and guard of the market they resolve to."""
        exchanges: set[tuple[int, bool]] = set()
        for item in partition_work(self.gateway, live_only=False).values():
            exchanges |= item.exchanges
        for broker_id, paper in sorted(exchanges):
            try:
                self.gateway.routed(paper=paper).markets(broker_id)
            except TemporaryError as exc:
                down.add((broker_id, paper))
                logger.warning("markets of broker #%s not loaded, its exchange is skipped at start: %s", broker_id, exc)
            except Exception as exc:
                logger.warning("markets of broker #%s not loaded: %s", broker_id, failure_text(exc))

    def _trim(self) -> None:
        for stream in STREAMS:
            stream_trim_acknowledged(self.redis, stream, [ENGINE_GROUP], keep_seconds=STREAM_KEEP_SECONDS)

    # Running a batch -------------------------------------------------------------------

    def _handle_batch(self, response: list[Any], *, first_delivery: bool = False) -> int:
        """Run a batch: partitions concurrently, each in stream order, none past its first failure."""
        groups: dict[str, list[Entry]] = {}
        done: Done = []
        for raw_stream, entries in response:
            stream = text(raw_stream)
            for raw_id, fields in entries:
                entry_id = text(raw_id)
                if fields is None:  # deleted while pending
                    done.append((stream, entry_id))
                    continue
                key = self._partition(stream, fields)
                if key in self._held:  # an earlier entry of this partition is unfinished: wait
                    self._held[key].add(entry_id)
                    self.entries.hold_record(stream, entry_id, fields)
                    continue
                groups.setdefault(key, []).append((stream, entry_id, fields))
        # The background pass works on one partition at a time: that one's entries wait for it.
        for key in self.claims.batch_take(groups):
            self._held[key] = {entry_id for _stream, entry_id, _fields in groups[key]}
            for stream, entry_id, fields in groups.pop(key):
                self.entries.hold_record(stream, entry_id, fields)
        for group in groups.values():
            group.sort(key=lambda item: entry_order(item[1]))
        # Candles mark, guard and fill every user's positions on a symbol: they run after the
        # batch's alert and event partitions, one at a time, so never beside an alert of theirs.
        candles = {key: group for key, group in groups.items() if key.startswith(HEARTBEAT_PREFIX)}
        others = {key: group for key, group in groups.items() if key not in candles}
        try:
            if self._pool is None or len(others) < 2:
                for key, group in others.items():
                    self._run_partition(key, group, first_delivery, done)
            else:
                list(self._pool.map(lambda kv: self._run_partition(kv[0], kv[1], first_delivery, done), others.items()))
            for key, group in candles.items():
                self._run_partition(key, group, first_delivery, done)
        finally:
            self.claims.batch_give()
            self._ack(done)
        return sum(len(group) for group in groups.values())

    def _run_partition(self, key: str, group: list[Entry], first_delivery: bool, done: Done) -> None:
        if threading.current_thread() is not threading.main_thread():
            close_old_connections()
        for position, (stream, entry_id, fields) in enumerate(group):
            if not self._holds_seat():
                # The seat was lost (its database session ended): start nothing more; the next
                # active engine takes the rest up in order.
                return
            if self.handle(stream, entry_id, fields, first_delivery=first_delivery, ack=False):
                done.append((stream, entry_id))
            else:
                # Later entries of this partition wait until this one is done (never reordered);
                # their alerts are recorded meanwhile, so each has its row within seconds.
                self._held.setdefault(key, set()).update(item[1] for item in group[position:])
                for later_stream, later_id, later_fields in group[position + 1 :]:
                    self.entries.hold_record(later_stream, later_id, later_fields)
                return

    def handle(
        self,
        stream: str,
        entry_id: str,
        fields: dict[Any, Any],
        *,
        first_delivery: bool = False,
        ack: bool = True,
    ) -> bool:
        """Handle one entry; acknowledged only when its outcome is recorded (by the caller when
        `ack` is False). True when done."""
        if not self.entries.run(stream, entry_id, fields, first_delivery=first_delivery):
            return False
        if ack:
            self.redis.xack(stream, ENGINE_GROUP, entry_id)
        self.processed += 1
        return True

    def event_handle(self, event: ExchangeEvent) -> None:
        self.entries.event_handle(event)

    def _partition(self, stream: str, fields: dict[Any, Any]) -> str:
        """The entry's partition; an unreadable entry goes to one fixed partition,
        where its handling records the failure (and the dead-letter stream takes it in the end)."""
        try:
            return self.partitions.key(stream, fields)
        except Exception:
            logger.warning("%s entry with unreadable fields: %r", stream, fields)
            return f"unreadable:{stream}"

    def _ack(self, done: Done) -> None:
        """Acknowledge handled entries in one round trip (a re-delivery after a crash before
        this finds their records and does nothing twice)."""
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id in done:
            by_stream.setdefault(stream, []).append(entry_id)
        if by_stream:
            pipe = self.redis.pipeline(transaction=False)
            for stream, ids in by_stream.items():
                pipe.xack(stream, ENGINE_GROUP, *ids)
            pipe.execute()
