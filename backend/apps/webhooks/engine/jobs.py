"""The engine's periodic jobs, on a thread of their own beside the batches: each on its own
schedule, each failure logged and tried again at its next turn, none while the engine stands by.

The active engine runs: trimming the acknowledged entries of its streams, the warning about
stale heartbeat prices, and starting the reconciliation pass (live orders looked up, guarded
positions protected again: `passes`, on its own thread, since an exchange may be slow).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connections

logger = logging.getLogger("aristobot.engine")

TICK_SECONDS = 0.5


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], object]
    last: float = 0.0  # monotonic time of its last start


class PeriodicJobs:
    """Runs `jobs` while `active()` says this engine holds the seat."""

    def __init__(self, jobs: list[Job], *, active: Callable[[], bool]) -> None:
        self.jobs = jobs
        self.active = active
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            job.last = now  # the first turn of each comes one period after the start
        self._thread = threading.Thread(target=self._loop, name="engine-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_due(self, now: float | None = None) -> list[str]:
        """Run the jobs whose turn it is; returns their names."""
        now = time.monotonic() if now is None else now
        ran = []
        for job in self.jobs:
            if self._stop.is_set() or not self.active():
                break
            if now - job.last < job.every_seconds:
                continue
            job.last = now
            ran.append(job.name)
            try:
                job.run()
            except Exception:
                logger.exception("engine job '%s' failed, next turn in %.0f s", job.name, job.every_seconds)
        return ran

    def _loop(self) -> None:
        try:
            while not self._stop.wait(TICK_SECONDS):
                close_old_connections()
                self.run_due()
        finally:
            connections.close_all()  # this thread's connection
