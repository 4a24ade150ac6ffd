"""The engine's stream consumer: alerts, exchange events and heartbeat candles in, each
acknowledged only once its outcome is recorded. Crashed tries are taken up again; entries that
keep failing go to the dead-letter stream and show up as errors.

Several engines can run on one stream: each reads the shards it owns (see `shards`), so the
alerts of one user are handled by one engine, those of one user and market in stream order.
The periodic look at live orders and guarded positions runs beside the batches (see `passes`)."""

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
from django.utils import timezone

from apps.brokers.models import Broker
from apps.core.gateway_client import GatewayClient
from apps.core.logcontext import alert_trace
from apps.core.streams import (
    EXCHANGE_EVENTS,
    HEARTBEAT,
    STREAM_KEEP_SECONDS,
    STREAM_MAXLEN,
    WEBHOOK_DEAD,
    WEBHOOK_RAW,
    Candle,
    ExchangeEvent,
    RawAlert,
    entry_order,
    text,
)
from apps.core.trim import stream_trim_acknowledged
from apps.webhooks.engine.dedup import Deduplicator
from apps.webhooks.engine.execution import AlertExecutor
from apps.webhooks.engine.failures import alert_fail, failure_text, is_final
from apps.webhooks.engine.follow_ups import order_follow_up_guarded
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.market import Owned, StalePrices, candle_handle
from apps.webhooks.engine.market_lock import market_hold
from apps.webhooks.engine.partitions import HEARTBEAT_PREFIX, Partitioner
from apps.webhooks.engine.passes import BackgroundPasses, PartitionClaims
from apps.webhooks.engine.reconcile import Down, orders_reconcile, partition_work, positions_protect_again
from apps.webhooks.engine.recording import BrokerDirectory, alert_record
from apps.webhooks.engine.shards import LEASE_SECONDS, ShardLeases, groups_prepare, shard_group, shard_of
from apps.webhooks.models import Order, WebhookStatus
from trading.errors import TemporaryError
from trading.markets import Market, symbol_key

logger = logging.getLogger("aristobot.engine")

STREAMS = (WEBHOOK_RAW, EXCHANGE_EVENTS, HEARTBEAT)
TRIM_EVERY_SECONDS = 300
RECONCILE_EVERY_SECONDS = 10
READ_COUNT = 100
SHARDS_CHECK_SECONDS = 0.25

Entry = tuple[str, str, dict[Any, Any]]  # stream, entry id, fields
Key = tuple[int, str]  # shard, partition: what runs in order


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
        shards: int | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.redis = client
        self.gateway = gateway
        self.consumer = consumer or f"engine-{socket.gethostname()}-{os.getpid()}"
        self.retry_idle_ms = retry_idle_ms
        self.max_deliveries = max_deliveries or settings.ALERT_MAX_DELIVERIES
        self.dedup = Deduplicator(client, window_seconds=settings.ALERT_DEDUP_WINDOW_SECONDS)
        self.executor = AlertExecutor(gateway)
        self.brokers = BrokerDirectory(client)
        self.partitions = Partitioner(self.brokers, self._markets_cached)
        self.stale_prices = StalePrices(client, max_age_seconds=settings.HEARTBEAT_STALE_SECONDS)
        self.shard_count = settings.ENGINE_SHARDS if shards is None else shards
        self.leases = ShardLeases(client, consumer=self.consumer, count=self.shard_count, lease_seconds=lease_seconds)
        self._active: frozenset[int] = frozenset()  # shards whose pending entries we have taken over
        self._held: dict[Key, set[str]] = {}  # partition → entries waiting behind an unfinished one
        self._failures: dict[str, str] = {}  # entry id → why its last try failed (for the dead letter)
        threads = settings.ENGINE_THREADS if threads is None else threads
        self._threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engine") if threads > 1 else None
        self._last_retry_scan = 0.0
        self._last_trim = 0.0
        self._last_reconcile = time.monotonic()
        self._last_shards_check = 0.0
        self.processed = 0
        self._started = False
        self.claims = PartitionClaims()
        self.passes = BackgroundPasses(gateway, self.claims, key_of=self._key_of, holds=self.leases.holds)

    def start(self) -> None:
        """Lay out the consumer groups, take our shards and their unfinished entries, reconcile orders."""
        self._started = True
        groups_prepare(self.redis, STREAMS, self.shard_count, consumer=self.consumer)
        self.leases.start()
        self._shards_follow()
        owned = self._owned_by(self._active)
        down: Down = set()  # an exchange that does not answer is asked once, not once per order
        self._markets_warm(owned, down)
        orders_reconcile(self.gateway, owned=owned, down=down)
        positions_protect_again(self.gateway, owned=owned, down=down)

    @property
    def shards(self) -> frozenset[int]:
        """The shards this engine handles now."""
        return self._active

    def step(self, block_ms: int = 1000) -> bool:
        close_old_connections()
        if not self._started:
            self.start()
        self._shards_follow()
        if not self._active:  # every shard is owned by other engines: stand by
            time.sleep(min(block_ms, 1000) / 1000)
            return False
        released = self.claims.released.is_set()  # entries held for the pass can run now
        if released or time.monotonic() - self._last_retry_scan > self.retry_idle_ms / 1000:
            self.claims.released.clear()
            self._last_retry_scan = time.monotonic()
            self._retry_stale()
        # Live orders looked up, guarded positions protected again: on the passes' own thread,
        # so an exchange slow to answer holds no alert but those of the partition it works on.
        if time.monotonic() - self._last_reconcile > RECONCILE_EVERY_SECONDS and self.passes.due(shards=self._active):
            self._last_reconcile = time.monotonic()
        if 0 in self._active:
            self.stale_prices.check()
            if time.monotonic() - self._last_trim > TRIM_EVERY_SECONDS:
                self._last_trim = time.monotonic()
                groups = [shard_group(shard) for shard in range(self.shard_count)]
                for stream in STREAMS:
                    stream_trim_acknowledged(self.redis, stream, groups, keep_seconds=STREAM_KEEP_SECONDS)
        batches = self._read(block_ms=block_ms)
        # A broker or user changed since the last batch is read again (retries above use the
        # previous batch's view, at most one step old).
        self.brokers.refresh()
        return self._handle_batch(batches, first_delivery=True) > 0

    def close(self) -> None:
        """Give our shards to the other engines and stop the worker threads (their database
        connections close with them)."""
        self.passes.close()
        self.leases.stop()
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

    # Shards ----------------------------------------------------------------------------

    def _owned_by(self, shards: frozenset[int]) -> Owned:
        """Whether a user's partition on a symbol is in `shards`."""
        return lambda user_id, symbol: self._shard_of(f"{user_id}:{symbol_key(symbol)}") in shards

    def _shard_of(self, shard_text: str) -> int:
        """The shard of a user's symbol (`7:BTCUSDT`): the same in every engine."""
        return shard_of(shard_text, self.shard_count)

    def _key_of(self, user_id: int | None, symbol: str) -> Key:
        partition = f"{user_id}:{symbol}"
        return self._shard_of(partition), partition

    def _markets_cached(self, broker: Broker) -> dict[str, Market] | None:
        """The markets an alert of `broker` resolves its symbol with, if loaded (no gateway call)."""
        return self.gateway.routed(paper=self.gateway.force_paper or broker.is_paper).markets_cached(broker.pk)

    def _markets_warm(self, owned: Owned, down: Down) -> None:
        """Load the markets of brokers with open orders or positions before the first batch, so
        that their alerts are partitioned with the fills and guard of the market they resolve to."""
        exchanges: set[tuple[int, bool]] = set()
        for (user_id, symbol), item in partition_work(self.gateway, live_only=False).items():
            if owned(user_id, symbol):
                exchanges |= item.exchanges
        for broker_id, paper in sorted(exchanges):
            try:
                self.gateway.routed(paper=paper).markets(broker_id)
            except TemporaryError as exc:
                down.add((broker_id, paper))
                logger.warning("markets of broker #%s not loaded, its exchange is skipped at start: %s", broker_id, exc)
            except Exception as exc:
                logger.warning("markets of broker #%s not loaded: %s", broker_id, failure_text(exc))

    def _shards_follow(self) -> None:
        """Between batches: give up surplus shards, take free ones up to our share (at most every
        SHARDS_CHECK_SECONDS, so a handover waits for no lease renewal), and take over the
        pending entries of new ones."""
        if time.monotonic() - self._last_shards_check > SHARDS_CHECK_SECONDS:
            self._last_shards_check = time.monotonic()
            self.leases.release_surplus()
            self.leases.tick()
        owned = self.leases.owned()
        gone = self._active - owned
        if gone:
            # Entries held behind a failure in a shard we no longer own are its new owner's now.
            self._held = {key: ids for key, ids in self._held.items() if key[0] not in gone}
        new = owned - self._active
        self._active = owned
        for shard in sorted(new):
            self._take_over(shard)

    def _take_over(self, shard: int) -> None:
        """Claim every entry pending in a shard's group (a dead or departed owner's included) and
        run them, in stream order, before anything new of that shard."""
        group = shard_group(shard)
        for stream in STREAMS:
            start = "-"
            while True:
                page: Any = self.redis.xpending_range(stream, group, min=start, max="+", count=1000)
                theirs = [item["message_id"] for item in page if text(item["consumer"]) != self.consumer]
                if theirs:  # JUSTID: moving an entry is not a delivery attempt
                    self.redis.xclaim(stream, group, self.consumer, 0, theirs, justid=True)
                if len(page) < 1000:
                    break
                start = "(" + text(page[-1]["message_id"])
        response: Any = self.redis.xreadgroup(group, self.consumer, dict.fromkeys(STREAMS, "0"), count=READ_COUNT)
        self._handle_batch([(shard, response or [])])

    # Reading and running ---------------------------------------------------------------

    def _read(self, *, block_ms: int) -> list[tuple[int, list[Any]]]:
        """New entries of each shard we own; every shard group sees every entry, so when none
        has any, waiting on one of them is waiting on all."""
        ids: Any = dict.fromkeys(STREAMS, ">")
        batches = []
        for shard in sorted(self._active):
            response: Any = self.redis.xreadgroup(shard_group(shard), self.consumer, ids, count=READ_COUNT)
            if response:
                batches.append((shard, response))
        if not batches and block_ms:
            shard = min(self._active)
            response = self.redis.xreadgroup(shard_group(shard), self.consumer, ids, count=READ_COUNT, block=block_ms)
            if response:
                batches.append((shard, response))
        return batches

    def _handle_batch(self, batches: list[tuple[int, list[Any]]], *, first_delivery: bool = False) -> int:
        """Run a batch: partitions concurrently, each in stream order, none past its first failure.

        Entries of partitions in other shards are acknowledged in this shard's group unread.
        """
        groups: dict[Key, list[Entry]] = {}
        done: list[tuple[str, str, str]] = []  # group, stream, entry id; list.append is atomic
        for shard, response in batches:
            group_name = shard_group(shard)
            for raw_stream, entries in response:
                stream = text(raw_stream)
                for raw_id, fields in entries:
                    entry_id = text(raw_id)
                    if fields is None:  # deleted while pending
                        done.append((group_name, stream, entry_id))
                        continue
                    shard_text, partition = self._partition(stream, fields)
                    if not partition.startswith(HEARTBEAT_PREFIX) and self._shard_of(shard_text) != shard:
                        done.append((group_name, stream, entry_id))
                        continue
                    key = (shard, partition)
                    if key in self._held:  # an earlier entry of this partition is unfinished: wait
                        self._held[key].add(entry_id)
                        self._hold_record(stream, entry_id, fields)
                        continue
                    groups.setdefault(key, []).append((stream, entry_id, fields))
        # The background pass works on one partition at a time: that one's entries wait for it.
        for key in self.claims.batch_take(groups):
            self._held[key] = {entry_id for _stream, entry_id, _fields in groups[key]}
            for stream, entry_id, fields in groups.pop(key):
                self._hold_record(stream, entry_id, fields)
        for group in groups.values():
            group.sort(key=lambda item: entry_order(item[1]))
        # Candles mark, guard and fill every user's positions on a symbol: they run after the
        # batch's alert and event partitions, one at a time, so never beside an alert of theirs.
        candles = {key: group for key, group in groups.items() if key[1].startswith(HEARTBEAT_PREFIX)}
        others = {key: group for key, group in groups.items() if key not in candles}
        try:
            if self._pool is None or len(others) < 2:
                for key, group in others.items():
                    self._run_partition(key, group, first_delivery, done)
            else:
                runs = self._pool.map(
                    lambda kv: self._run_partition(kv[0], kv[1], first_delivery, done), others.items()
                )
                list(runs)
            for key, group in candles.items():
                self._run_partition(key, group, first_delivery, done)
        finally:
            self.claims.batch_give()
            self._ack(done)
        return sum(len(group) for group in groups.values())

    def _run_partition(
        self, key: Key, group: list[Entry], first_delivery: bool, done: list[tuple[str, str, str]]
    ) -> None:
        if threading.current_thread() is not threading.main_thread():
            close_old_connections()
        shard = key[0]
        for position, (stream, entry_id, fields) in enumerate(group):
            if not self.leases.holds(shard):
                # Our lease may be running out (Redis away, or we were frozen): start nothing more of
                # this shard; its next owner, or we once renewed, take the rest up in order.
                self._held.setdefault(key, set()).update(item[1] for item in group[position:])
                return
            if self.handle(stream, entry_id, fields, shard=shard, first_delivery=first_delivery, ack=False):
                done.append((shard_group(shard), stream, entry_id))
            else:
                # Later entries of this partition wait until this one is done (never reordered);
                # their alerts are recorded meanwhile, so each has its row within seconds.
                self._held.setdefault(key, set()).update(item[1] for item in group[position:])
                for later_stream, later_id, later_fields in group[position + 1 :]:
                    self._hold_record(later_stream, later_id, later_fields)
                return

    def handle(
        self,
        stream: str,
        entry_id: str,
        fields: dict[Any, Any],
        *,
        shard: int = 0,
        first_delivery: bool = False,
        ack: bool = True,
    ) -> bool:
        """Handle one entry of a shard; acknowledged only when its outcome is recorded (by the
        caller when `ack` is False). True when done."""
        try:
            if stream == WEBHOOK_RAW:
                self.alert_handle(entry_id, RawAlert.from_fields(fields), first_delivery=first_delivery)
            elif stream == HEARTBEAT:
                candle_handle(
                    Candle.from_fields(fields),
                    self.gateway,
                    owned=self._owned_by(frozenset([shard])),
                    feed_paper=shard == 0,
                )
            else:
                self.event_handle(ExchangeEvent.from_fields(fields))
        except TemporaryError as exc:
            logger.warning("%s %s not finished, will retry: %s", stream, entry_id, exc)
            self._failed(entry_id, str(exc))
            return False
        except Exception as exc:
            if not is_final(exc):  # unexpected: maybe a lost connection, worth a retry
                logger.exception("%s %s failed, will retry", stream, entry_id)
                self._failed(entry_id, failure_text(exc))
                return False
            # No retry can cure it (bad numbers, a value the database cannot hold): final now.
            if not self._final(stream, entry_id, fields, exc):
                return False
        self._failures.pop(entry_id, None)
        if ack:
            self.redis.xack(stream, shard_group(shard), entry_id)
        self.processed += 1
        return True

    def _failed(self, entry_id: str, reason: str) -> None:
        if len(self._failures) > 10_000:  # entries other engines finished: forget them
            self._failures.clear()
        self._failures[entry_id] = reason

    def _final(self, stream: str, entry_id: str, fields: dict[Any, Any], error: Exception) -> bool:
        """End an entry that failed for good: an alert is recorded as an error saying why and
        whether anything reached the exchange; another entry is logged and dropped. False when
        even that failed (retried then)."""
        try:
            if stream == WEBHOOK_RAW:
                with alert_trace(text(fields.get(b"trace_id", fields.get("trace_id", "")))):
                    alert_fail(stream_id=entry_id, fields=fields, reason=failure_text(error))
            else:
                logger.error("%s %s cannot be handled, dropped: %s", stream, entry_id, failure_text(error))
        except Exception:
            logger.exception("%s %s: recording its failure failed, will retry", stream, entry_id)
            return False
        return True

    def _hold_record(self, stream: str, entry_id: str, fields: dict[Any, Any]) -> None:
        """Record an alert held behind an unfinished one of its partition (executed later)."""
        if stream != WEBHOOK_RAW:
            return
        try:
            alert_record(stream_id=entry_id, raw=RawAlert.from_fields(fields), dedup=self.dedup, brokers=self.brokers)
        except Exception as exc:  # the retry records it, or the dead letter does
            logger.warning("alert %s held and not recorded yet: %s", entry_id, failure_text(exc))

    def _partition(self, stream: str, fields: dict[Any, Any]) -> tuple[str, str]:
        """The entry's shard text and partition; an unreadable entry goes to one fixed partition,
        where its handling records the failure (and the dead-letter stream takes it in the end)."""
        try:
            return self.partitions.route(stream, fields)
        except Exception:
            logger.warning("%s entry with unreadable fields: %r", stream, fields)
            return f"unreadable:{stream}", f"unreadable:{stream}"

    def _ack(self, done: list[tuple[str, str, str]]) -> None:
        """Acknowledge handled entries in one round trip (a re-delivery after a crash before
        this finds their records and does nothing twice)."""
        by_target: dict[tuple[str, str], list[str]] = {}
        for group, stream, entry_id in done:
            by_target.setdefault((stream, group), []).append(entry_id)
        if by_target:
            pipe = self.redis.pipeline(transaction=False)
            for (stream, group), ids in by_target.items():
                pipe.xack(stream, group, *ids)
            pipe.execute()

    def alert_handle(self, entry_id: str, raw: RawAlert, *, first_delivery: bool = False) -> None:
        with alert_trace(raw.trace_id):  # every log line about this alert carries its trace id
            self._alert_handle(entry_id, raw, first_delivery=first_delivery)

    def _alert_handle(self, entry_id: str, raw: RawAlert, *, first_delivery: bool) -> None:
        recorded = alert_record(
            stream_id=entry_id, raw=raw, dedup=self.dedup, first_delivery=first_delivery, brokers=self.brokers
        )
        webhook = recorded.webhook
        if recorded.alert is None or webhook.status not in (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING):
            if webhook.status in (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING):
                webhook.status = WebhookStatus.ERROR
                webhook.error_message = webhook.error_message or "the alert could not be read again after a restart"
                webhook.processed_at = timezone.now()
                webhook.save()
            logger.info(
                "alert #%s %s %s: %s %s",
                webhook.pk,
                webhook.action,
                webhook.symbol,
                webhook.status,
                webhook.error_message,
            )
            return
        self.executor.execute(webhook, recorded.alert, fresh=recorded.fresh)
        logger.info(
            "alert #%s %s %s: %s %s", webhook.pk, webhook.action, webhook.symbol, webhook.status, webhook.error_message
        )

    def event_handle(self, event: ExchangeEvent) -> None:
        order = Order.objects.filter(broker_id=event.broker_id, client_order_id=event.order.client_order_id).first()
        if order is None:
            logger.info("event for an order Aristobot did not place: %s", event.order.client_order_id)
            return
        if order.paper != event.paper or (self.gateway.force_paper and not order.paper):
            # A paper fill never changes a live order (nor a --test engine a live one).
            logger.warning(
                "event for %s ignored: the order is %s, the event came from the %s exchange",
                order.client_order_id,
                "paper" if order.paper else "live",
                "paper" if event.paper else "live",
            )
            return
        with market_hold(order.broker_id, order.symbol):
            order_state_apply(order, event.order)
            warning = order_follow_up_guarded(order, self.gateway)
        if warning:
            logger.warning("order %s: %s", order.client_order_id, warning)
        logger.info("order %s is %s (filled %s)", order.client_order_id, event.order.status, event.order.filled)

    # Retries ---------------------------------------------------------------------------

    def _retry_stale(self) -> None:
        """Take up entries left unfinished in our shards: ours after a failure or held behind one,
        and those of a dead engine; in stream order, a partition stopping at its first failure."""
        failed: dict[Key, set[str]] = {}
        for shard in sorted(self._active):
            failed.update(self._retry_shard(shard))
        self._held = failed

    def _retry_shard(self, shard: int) -> dict[Key, set[str]]:
        group = shard_group(shard)
        candidates: list[tuple[str, str, int]] = []
        for stream in STREAMS:
            stale: Any = self.redis.xpending_range(stream, group, min="-", max="+", count=200, idle=self.retry_idle_ms)
            candidates += [(stream, text(item["message_id"]), int(item["times_delivered"])) for item in stale]
        held_ids = {entry_id for key, ids in self._held.items() if key[0] == shard for entry_id in ids}
        if held_ids:
            for stream in STREAMS:
                entries: Any = self.redis.xpending_range(stream, group, min="-", max="+", count=1000)
                candidates += [
                    (stream, text(item["message_id"]), int(item["times_delivered"]))
                    for item in entries
                    if text(item["message_id"]) in held_ids
                ]
        failed: dict[Key, set[str]] = {}
        unique = {entry_id: (stream, entry_id, delivered) for stream, entry_id, delivered in candidates}
        ordered = sorted(unique.values(), key=lambda c: entry_order(c[1]))
        # Read without claiming (one round trip): a claim counts as a delivery, and an entry held
        # behind a failing one must not use up its deliveries without ever being tried.
        pipe = self.redis.pipeline(transaction=False)
        for stream, entry_id, _delivered in ordered:
            pipe.xrange(stream, min=entry_id, max=entry_id)
        contents: list[Any] = pipe.execute() if ordered else []
        for (stream, entry_id, delivered), found in zip(ordered, contents, strict=True):
            fields = found[0][1] if found else None
            if not fields:  # deleted while pending
                self.redis.xack(stream, group, entry_id)
                continue
            shard_text, partition = self._partition(stream, fields)
            if not partition.startswith(HEARTBEAT_PREFIX) and self._shard_of(shard_text) != shard:
                self.redis.xack(stream, group, entry_id)
                continue
            key = (shard, partition)
            if key in failed:  # an earlier entry of its partition is still unfinished: wait, untried
                failed[key].add(entry_id)
                continue
            if self.claims.batch_take([key]):  # the background pass works on it: wait, untried
                failed.setdefault(key, set()).add(entry_id)
                continue
            if delivered >= self.max_deliveries:
                self._dead_letter(stream, group, entry_id, fields)
                continue
            try:
                claimed: Any = self.redis.xclaim(stream, group, self.consumer, 0, [entry_id])
                if not claimed:  # acknowledged meanwhile
                    continue
                if not self.handle(stream, entry_id, fields, shard=shard):
                    failed.setdefault(key, set()).add(entry_id)
            finally:
                self.claims.batch_give()
        return failed

    def _dead_letter(self, stream: str, group: str, entry_id: str, fields: dict[Any, Any]) -> None:
        """Give up on an entry: copy it to the dead-letter stream; an alert's row (created if it
        has none) says why and whether anything reached the exchange."""
        record = {**{text(k): text(v) for k, v in fields.items()}, "stream": stream, "entry_id": entry_id}
        self.redis.xadd(WEBHOOK_DEAD, record, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        if stream == WEBHOOK_RAW:
            last = self._failures.get(entry_id)
            reason = f"gave up after {self.max_deliveries} attempts" + (f" (last: {last})" if last else "")
            alert_fail(stream_id=entry_id, fields=fields, reason=f"{reason}, see the dead-letter stream {WEBHOOK_DEAD}")
        self._failures.pop(entry_id, None)
        self.redis.xack(stream, group, entry_id)
        logger.error("%s %s moved to %s after %d deliveries", stream, entry_id, WEBHOOK_DEAD, self.max_deliveries)
