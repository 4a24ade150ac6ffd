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

from apps.core.liveness import Liveness, LivenessPublisher

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


def worker_loop(
    step: Callable[[], bool],
    *,
    name: str,
    stop: StopFlag,
    max_backoff: float = 10.0,
    liveness: LivenessPublisher | None = None,
) -> None:
    """Run `step` until stopped; an exception is logged and retried with backoff, never fatal.

    Between steps the process beats its liveness record (`proc:<name>:…`, see apps/core/liveness.py),
    so a loop that hangs stops beating; a step that found work is its last activity.
    """
    if liveness is None:
        from apps.core.redis_client import redis_sync

        liveness = LivenessPublisher(Liveness(name), redis_sync())
    backoff = 0.0
    while not stop:
        try:
            if step():
                liveness.liveness.touch()
            backoff = 0.0
        except Exception:
            backoff = min(max_backoff, max(0.2, backoff * 2))
            logger.exception("%s: step failed; retrying in %.1f s", name, backoff)
            stop.wait(backoff)
        liveness.beat()
    liveness.withdraw()
    logger.info("%s: stopped", name)


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
