"""One piece of work at a time on a broker's market, across threads and engine processes.

Partitions keep an alert stream in order inside the active engine, but two spellings of one
market (`XBTUSD` before the broker's markets are loaded, `BTC/USD` after), an alert and the fill
of its position's stop, or a batch and the reconciliation pass may still work on one position
from two threads; and while the seat changes hands, from two engines. Whatever changes a
position (an alert, an exchange event, the guard, a reconciliation) therefore holds its
market's lock while it works.

The locks are the database's and the kernel's, released by them when the holder dies, so a
killed engine never leaves one behind (nothing to expire, nothing to renew):

- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`), across machines;
- SQLite (one machine): a POSIX record lock on one byte of a file beside the database
  (`fcntl.lockf`), plus a thread lock, since record locks belong to a process, not a thread.

A lock is re-entrant in its thread. Waiting is bounded: after LOCK_WAIT_SECONDS the work
fails with a TemporaryError and is retried, as any entry that could not finish.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import connection

from trading.errors import TemporaryError

LOCK_WAIT_SECONDS = 30.0
_NAMESPACE = 0x4172  # the advisory lock class of Aristobot's market locks ("Ar")
_FILE_SLOTS = 1 << 30  # byte offsets in the lock file (a collision only serialises more)


def _key_number(key: str) -> int:
    """A signed 32-bit number for `key`, the same in every process."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)


class MarketLocks:
    """The market locks of this process (see the module's docstring)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._threads: dict[str, threading.Lock] = {}
        self._held = threading.local()  # key → depth, per thread
        self._file: int | None = None
        self._file_path: str | None = None

    @contextlib.contextmanager
    def hold(self, broker_id: int | None, symbol: str) -> Iterator[None]:
        key = f"{broker_id}:{symbol}"
        depths: dict[str, int] | None = getattr(self._held, "depths", None)
        if depths is None:
            depths = self._held.depths = {}
        if depths.get(key):  # held by this thread already
            depths[key] += 1
            try:
                yield
            finally:
                depths[key] -= 1
            return
        release = self._acquire(key, symbol)
        depths[key] = 1
        try:
            yield
        finally:
            depths.pop(key, None)
            release.close()

    def _acquire(self, key: str, symbol: str) -> contextlib.ExitStack:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        stack = contextlib.ExitStack()
        with self._guard:
            thread_lock = self._threads.setdefault(key, threading.Lock())
        if not thread_lock.acquire(timeout=LOCK_WAIT_SECONDS):
            raise _busy(symbol)
        stack.callback(thread_lock.release)
        try:
            if connection.vendor == "postgresql":
                self._advisory(key, symbol, deadline, stack)
            else:
                self._record(key, symbol, deadline, stack)
        except BaseException:
            stack.close()
            raise
        return stack

    def _advisory(self, key: str, symbol: str, deadline: float, stack: contextlib.ExitStack) -> None:
        number = _key_number(key)
        with connection.cursor() as cursor:

            def take() -> bool:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_NAMESPACE, number])
                return bool(cursor.fetchone()[0])

            _poll(take, deadline, symbol)
        session = connection.connection  # the lock belongs to this database session

        def unlock() -> None:
            if connection.connection is not session:
                return  # the session ended, and the lock with it
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_NAMESPACE, number])
            except Exception:  # a session that cannot unlock must not keep the lock: end it
                connection.close()

        stack.callback(unlock)

    def _record(self, key: str, symbol: str, deadline: float, stack: contextlib.ExitStack) -> None:
        fd = self._lock_file()
        if fd is None:
            return  # an in-memory database lives in this process only: the thread lock is enough
        offset = _key_number(key) % _FILE_SLOTS

        def take() -> bool:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset, os.SEEK_SET)
            except OSError:
                return False
            return True

        _poll(take, deadline, symbol)
        stack.callback(fcntl.lockf, fd, fcntl.LOCK_UN, 1, offset, os.SEEK_SET)

    def _lock_file(self) -> int | None:
        """One descriptor for the life of the process: closing any descriptor of the file would
        drop every record lock the process holds on it."""
        name = str(connection.settings_dict.get("NAME") or "")
        if not name or name == ":memory:" or name.startswith("file:"):
            return None
        path = f"{name}.market-locks"
        with self._guard:
            if self._file is None or self._file_path != path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                self._file_path = path
            return self._file


def _poll(take: Callable[[], bool], deadline: float, symbol: str) -> None:
    """Try `take` until it succeeds, pausing 2 ms, then twice as long up to 50 ms; past
    `deadline` the work fails as temporary."""
    pause = 0.002
    while not take():
        if time.monotonic() > deadline:
            raise _busy(symbol)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _busy(symbol: str) -> TemporaryError:
    return TemporaryError(f"{symbol} is busy in another engine for over {LOCK_WAIT_SECONDS:.0f} s: retried later")


market_locks = MarketLocks()


def market_hold(broker_id: int | None, symbol: str) -> contextlib.AbstractContextManager[None]:
    """Hold the lock of `symbol` (a resolved market) on a broker while changing its position."""
    return market_locks.hold(broker_id, symbol)
