"""Log lines for production: one JSON object per line, with secrets removed from every line.

`LOG_FORMAT=json` (docker-compose) selects `JsonFormatter`; `plain` (the default, and `make run`'s)
keeps the readable one-line format. Both run every record through `SecretRedactor` and
`LogContextFilter`, attached to the console handler in settings.LOGGING.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from apps.core.logcontext import process_name, trace_id_current

MASK = "***"

# A webhook token (apps.webhooks.models.TOKEN_PREFIX) anywhere in a line.
_WEBHOOK_TOKEN = re.compile(r"\babt_[A-Za-z0-9_\-]{6,}")
# `name=value`, `name: value`, `"name": "value"` for names that hold a credential.
_SECRET_MEMBER = re.compile(
    r"""(?P<key>["']?\b(?:api[_-]?key|apikey|api[_-]?secret|secret(?:[_-]?key)?|password|passwd|passphrase|"""
    r"""token|signature|x-mbx-apikey|authorization|private[_-]?key)\b["']?\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\])]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)


def _member_masked(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{quote}{MASK}{quote}"


def _configured_secrets() -> tuple[str, ...]:
    """Secret values from the settings, when Django is configured: never written out as they are."""
    try:
        from django.conf import settings

        values = [settings.SECRET_KEY, settings.WEBHOOK_TOKEN, *(key.decode() for key in settings.ENCRYPTION_KEYS)]
    except Exception:  # settings not configured (a script) or incomplete: patterns still apply
        return ()
    return tuple(value for value in values if value and len(value) >= 8)


def redact(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` with webhook tokens, credential members, bearer tokens and the `known` values masked."""
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _WEBHOOK_TOKEN.sub("abt_" + MASK, text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {MASK}", text)
    return _SECRET_MEMBER.sub(_member_masked, text)


class SecretRedactor(logging.Filter):
    """Masks secrets in the message, its arguments, the traceback and the stack of every record."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._known: tuple[str, ...] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._known is None:
            self._known = _configured_secrets()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself
            return True
        record.msg = redact(message, self._known)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._known)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._known)
        return True


class LogContextFilter(logging.Filter):
    """Stamps each record with the process name and the trace id of the alert being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = process_name()
        if not getattr(record, "trace_id", ""):
            record.trace_id = trace_id_current()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, trace_id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": getattr(record, "process_name", "") or process_name(),
            "pid": record.process,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", "") or trace_id_current()
        if trace_id:
            data["trace_id"] = trace_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return orjson.dumps(data, default=str).decode()
