"""The engine's periodic passes (live orders looked up, engine-guarded positions protected
again) on a thread of their own, so that no alert waits while an exchange is slow to answer.

They keep the rule the batches keep: two things never work on one position at once. The pass
takes one partition (user and symbol) at a time through `PartitionClaims`; the consumer claims
the partitions of a batch (and the symbols of its candles) before running it. A partition the
pass holds is skipped by the batch, its entries held and run as soon as the pass lets it go; a
partition a batch holds is skipped by the pass until its next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connections

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.partitions import HEARTBEAT_PREFIX
from apps.webhooks.engine.reconcile import Down, orders_reconcile, partition_work, positions_protect_again
from trading.errors import TemporaryError

logger = logging.getLogger("aristobot.engine")

Key = str  # a partition: `7:BTC/USDT`, `heartbeat:BTCUSDT`


def _symbol(partition: str) -> str:
    """`7:BTCUSDT` → `BTCUSDT`; `heartbeat:BTCUSDT` → `BTCUSDT`."""
    return partition.partition(":")[2]


class PartitionClaims:
    """Who works on which partition now: the consumer's batch or the pass, never both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch: set[Key] = set()
        self._batch_symbols: set[str] = set()  # candles touch every partition of their symbol
        self._passing: Key | None = None
        self._refused: set[Key] = set()  # keys the batch skipped for the pass
        self.released = threading.Event()  # the pass let go of a partition whose entries wait

    def batch_take(self, keys: Iterable[Key]) -> set[Key]:
        """Claim `keys` for the consumer; returns those the pass holds (not claimed)."""
        with self._lock:
            busy: set[Key] = set()
            for key in keys:
                if self._conflicts(key):
                    busy.add(key)
                    continue
                self._batch.add(key)
                if key.startswith(HEARTBEAT_PREFIX):
                    self._batch_symbols.add(_symbol(key))
            self._refused |= busy
            return busy

    def _conflicts(self, key: Key) -> bool:
        passing = self._passing
        if passing is None:
            return False
        if key.startswith(HEARTBEAT_PREFIX):
            return _symbol(key) == _symbol(passing)
        return key == passing

    def batch_give(self) -> None:
        with self._lock:
            self._batch.clear()
            self._batch_symbols.clear()

    def pass_take(self, key: Key) -> bool:
        with self._lock:
            if key in self._batch or _symbol(key) in self._batch_symbols:
                return False
            self._passing = key
            return True

    def pass_give(self) -> None:
        with self._lock:
            passing, self._passing = self._passing, None
            if passing is not None and any(
                refused == passing or _symbol(refused) == _symbol(passing) for refused in self._refused
            ):
                self._refused.clear()
                self.released.set()


class BackgroundPasses:
    """Runs one pass at a time on its own thread (with its own database connection)."""

    def __init__(
        self,
        gateway: GatewayClient,
        claims: PartitionClaims,
        *,
        active: Callable[[], bool],
    ) -> None:
        self.gateway = gateway
        self.claims = claims
        self.active = active  # whether this engine is still the active one
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-pass")
        self._running: Future[None] | None = None
        self._stop = threading.Event()

    def due(self) -> bool:
        """Start a pass unless one is still running; True when started."""
        if self._running is not None and not self._running.done():
            return False
        self._running = self._pool.submit(self._run)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Until the running pass (if any) is over (for tests and shutdown)."""
        if self._running is not None:
            self._running.result(timeout)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        try:
            self._pass()
        except Exception:
            logger.exception("reconciliation pass failed, next pass in a few seconds")
        finally:
            connections.close_all()  # this thread's connection: opened again by the next pass

    def _pass(self) -> None:
        """Live exchanges do not tell us when a resting order fills: ask them (an engine running
        with --test has none to ask); and ask again to hold the protection the guard holds."""
        down: Down = set()
        work = partition_work(self.gateway, live_only=True)
        for (user_id, symbol), item in work.items():
            if self._stop.is_set():
                return
            if not self.active():
                return  # the seat was lost: the next active engine passes
            key = f"{user_id}:{symbol}"
            if item.exchanges <= down:
                continue  # every exchange it needs failed in this pass: next pass
            if not self.claims.pass_take(key):
                continue  # an alert or candle of it runs now: next pass
            try:
                self._markets_load(item.exchanges, down)
                if item.orders:
                    orders_reconcile(self.gateway, live_only=True, ids=item.orders, down=down)
                if item.positions:
                    positions_protect_again(self.gateway, ids=item.positions, down=down)
            except Exception:
                logger.exception("reconciliation of partition %s failed, next pass", key)
            finally:
                self.claims.pass_give()

    def _markets_load(self, exchanges: set[tuple[int, bool]], down: Down) -> None:
        """Load the markets of brokers with open items, so their alerts' partitions are resolved."""
        for broker_id, paper in exchanges - down:
            gateway = self.gateway.routed(paper=paper)
            if gateway.markets_cached(broker_id) is not None:
                continue
            try:
                gateway.markets(broker_id)
            except TemporaryError:
                down.add((broker_id, paper))
            except Exception as exc:
                logger.info("markets of broker #%s not loaded: %s", broker_id, exc)
