"""The loop around a worker's step: signals, backoff on failure, a clean stop.

A worker exposes `step() -> bool` that handles one unit of work (True when there was work);
tests call the step directly, processes call `worker_loop`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class StopFlag:
    """Set by SIGTERM or SIGINT; the loop finishes its current step and returns."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self, *_: object) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def install(self) -> StopFlag:
        signal.signal(signal.SIGTERM, self.set)
        signal.signal(signal.SIGINT, self.set)
        return self


def worker_loop(step: Callable[[], bool], *, name: str, stop: StopFlag, max_backoff: float = 10.0) -> None:
    """Run `step` until stopped; an exception is logged and retried with backoff, never fatal."""
    backoff = 0.0
    while not stop:
        try:
            step()
            backoff = 0.0
        except Exception:
            backoff = min(max_backoff, max(0.2, backoff * 2))
            logger.exception("%s: step failed; retrying in %.1f s", name, backoff)
            stop.wait(backoff)
    logger.info("%s: stopped", name)


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
