"""Pacing what repeats: a warning logged at most once per period, and the backoff between retries."""

from __future__ import annotations

import logging
import time

RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits after the 1st, 2nd, … failure; the last one repeats


def retry_delay(failures: int) -> float:
    """How long to wait after `failures` failures in a row (at least one)."""
    return RETRY_SECONDS[min(max(failures, 1), len(RETRY_SECONDS)) - 1]


class LogThrottle:
    """Log a repeated warning at most once per `every` seconds, with how many were suppressed."""

    __slots__ = ("_every", "_logger", "_next", "_suppressed")

    def __init__(self, logger: logging.Logger, every: float = 5.0) -> None:
        self._logger = logger
        self._every = every
        self._next = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        """Log now, or count it until the next allowed time."""
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return
        if self._suppressed:
            message += f" ({self._suppressed} similar warnings suppressed)"
            self._suppressed = 0
        self._next = now + self._every
        self._logger.warning(message, *args)
