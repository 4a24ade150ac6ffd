"""The live adapter's one retry policy, on tenacity: an attempt that raises `TryAgain` is tried
again up to RETRIES more times, after 0.5, 1, 2 … s (at most 8) or the exchange's Retry-After.

The attempt decides what may be tried again: a read after any temporary error, a placement only
when the order was certainly not placed (see `CcxtExchange._place_once`). Any other exception
ends the tries at once, unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from trading.errors import TemporaryError

logger = logging.getLogger(__name__)

RETRIES = 3
MAX_BACKOFF_SECONDS = 8.0

T = TypeVar("T")


class TryAgain(Exception):
    """Raised by an attempt that may be tried again; the last try raises its `error`."""

    def __init__(self, error: TemporaryError) -> None:
        super().__init__(str(error))
        self.error = error


def backoff_seconds(error: TemporaryError, attempt: int) -> float:
    """The pause after failed try number `attempt` (0 for the first): the exchange's Retry-After
    when it sent one, else doubling from 0.5 s up to MAX_BACKOFF_SECONDS."""
    if error.retry_after is not None:
        return error.retry_after
    return min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt)


def _error(state: RetryCallState) -> TemporaryError:
    assert state.outcome is not None
    again = state.outcome.exception()
    assert isinstance(again, TryAgain)
    return again.error


async def retried(
    attempt: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]],
    retries: int = RETRIES,
) -> T:
    """`attempt()`'s answer, trying again while it raises TryAgain (at most `retries` more times,
    pausing `backoff_seconds` with `sleep`); then the last TemporaryError."""

    def wait(state: RetryCallState) -> float:
        return backoff_seconds(_error(state), state.attempt_number - 1)

    def log(state: RetryCallState) -> None:
        logger.warning("%s; retrying in %.1f s", _error(state), state.upcoming_sleep)

    async def pause(seconds: float) -> None:
        await sleep(float(seconds))

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(TryAgain),
        stop=stop_after_attempt(retries + 1),
        wait=wait,
        sleep=pause,
        before_sleep=log,
        reraise=True,
    )
    try:
        return await retrying(attempt)
    except TryAgain as again:
        raise again.error from None
