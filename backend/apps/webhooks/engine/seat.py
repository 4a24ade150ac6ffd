"""The active engine's seat: one engine consumes the streams, the others stand by.

Whoever holds the seat reads every stream through the one consumer group `engine` and runs
partitions on threads of its own (see `consumer`); a standby engine tries to take the seat a
few times a second and, once it has it, claims whatever the previous holder left pending.

The seat is a lock of the database or of the kernel, never a lease: nothing expires, nothing
is renewed, and the holder's death frees it at once (its socket or its descriptor closes).

- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection of the seat's
  own, so engines on several machines elect one between them. A frozen holder keeps the seat
  (no second engine starts beside it); a holder cut off from the database loses its session,
  notices it at its next `check()` (before every batch) and stands by.
- SQLite (one machine): a POSIX record lock on a file beside the database (`fcntl.lockf`).
- An in-memory SQLite database lives in one process: the seat is that process's.

Inside a process a registry keeps the seat to one engine object too (record locks belong to a
process, and tests run several engines in one).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

from django.db import connections

logger = logging.getLogger("aristobot.engine")

_NAMESPACE = 0x4173  # the advisory lock class of the engine seat ("As"); market locks use 0x4172
_SEAT_KEY = 1
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}

_taken_in_process: set[str] = set()  # seats held by an engine object of this process
_registry_lock = threading.Lock()


class EngineSeat:
    """The seat of the active engine for one database (see the module's docstring)."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self._held = False
        self._session: Any = None  # PostgreSQL: the connection holding the advisory lock
        self._file: int | None = None  # SQLite: the descriptor holding the record lock

    @property
    def held(self) -> bool:
        """Whether this engine held the seat at its last `take()` or `check()`."""
        return self._held

    def take(self) -> bool:
        """Take the seat if it is free (never waits); True when this engine holds it."""
        if self._held:
            return True
        with _registry_lock:
            if self._place() in _taken_in_process:
                return False
            try:
                taken = self._take()
            except Exception as exc:  # the database is away: stand by and try again later
                logger.warning("engine seat not taken, database unreachable: %s", exc)
                self._drop()
                return False
            if taken:
                _taken_in_process.add(self._place())
                self._held = True
            return taken

    def check(self) -> bool:
        """Whether the seat is still ours: on PostgreSQL, asks the seat's session (a lost session
        lost the lock with it). Called before every batch."""
        if not self._held:
            return False
        if self._session is None:
            return True
        try:
            with self._session.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            logger.error("engine seat lost with its database session (%s): standing by", exc)
            self.release()
            return False
        return True

    def release(self) -> None:
        """Give the seat up (at shutdown, or once lost)."""
        with _registry_lock:
            if self._held:
                _taken_in_process.discard(self._place())
            self._held = False
            self._drop()

    # Backends ----------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        return connections[self.alias].settings_dict

    def _place(self) -> str:
        settings = self._settings()
        return f"{settings['ENGINE']}:{settings.get('HOST') or ''}:{settings.get('PORT') or ''}:{settings['NAME']}"

    def _take(self) -> bool:
        wrapper = connections[self.alias]
        if wrapper.vendor == "postgresql":
            return self._take_advisory()
        path = _seat_file(str(self._settings().get("NAME") or ""))
        return True if path is None else self._take_record(path)  # in memory: the registry alone

    def _take_advisory(self) -> bool:
        if self._session is None:
            wrapper = connections[self.alias]
            self._session = wrapper.get_new_connection({**wrapper.get_connection_params(), **_KEEPALIVE})
            self._session.autocommit = True
        with self._session.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_NAMESPACE, _SEAT_KEY])
            return bool(cursor.fetchone()[0])

    def _take_record(self, path: str) -> bool:
        if self._file is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0, os.SEEK_SET)
        except OSError:
            return False
        return True

    def _drop(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                self._session.close()
            self._session = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.close(self._file)  # closing the descriptor drops its record lock
            self._file = None


def _seat_file(name: str) -> str | None:
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return f"{name}.engine-seat"
