"""What a log line knows about where it comes from: the process name and the alert being handled.

The trace id is a context variable, so each engine thread (and each receiver task) sees only
the alert it is handling: `with alert_trace(trace_id): ...` around the work, `trace_id_current()`
in the log formatter.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_TRACE_ID: ContextVar[str] = ContextVar("aristobot_trace_id", default="")

# The management command each long-running process is started with, and its short name.
PROCESS_COMMANDS = {
    "run_webhook_receiver": "receiver",
    "run_trading_engine": "engine",
    "run_native_exchange_service": "gateway",
    "run_heartbeat": "heartbeat",
}

_process_name: str | None = None


@contextmanager
def alert_trace(trace_id: str) -> Iterator[None]:
    """Log lines written inside carry `trace_id` (nothing changes when it is empty)."""
    if not trace_id:
        yield
        return
    token = _TRACE_ID.set(trace_id)
    try:
        yield
    finally:
        _TRACE_ID.reset(token)


def trace_id_set(trace_id: str) -> None:
    """Set the trace id for the rest of the current context (an asyncio task ends with it)."""
    _TRACE_ID.set(trace_id)


def trace_id_current() -> str:
    """The trace id of the alert being handled here, or ''."""
    return _TRACE_ID.get()


def process_name_from_argv(argv: Sequence[str]) -> str:
    """`engine` for `manage.py run_trading_engine`, `web` for daphne, else the command's name."""
    program = Path(argv[0]).name if argv else ""
    if program == "daphne" or (argv and "daphne" in Path(argv[0]).parts):
        return "web"
    command = argv[1] if len(argv) > 1 else ""
    if command in PROCESS_COMMANDS:
        return PROCESS_COMMANDS[command]
    return command or program.removesuffix(".py") or "python"


def process_name() -> str:
    """This process's name: set by `process_name_set`, else guessed from the command line."""
    global _process_name
    if _process_name is None:
        _process_name = process_name_from_argv(sys.argv)
    return _process_name


def process_name_set(name: str) -> None:
    """Name this process in its log lines and liveness record."""
    global _process_name
    _process_name = name
