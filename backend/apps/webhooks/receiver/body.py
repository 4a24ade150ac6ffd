"""Alert bodies: read as a JSON object whatever the content type, and made safe to store (no token)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from trading.alerts import SECRET_FIELDS

TOKEN_FIELD = "Token"
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
# A token-looking member in a body too broken to parse: masked before the text is stored.
_TOKEN_MEMBER = re.compile(r"""(["']?token["']?\s*[:=]\s*)("[^"]*"?|'[^']*'?|[^,}\s]*)""", re.IGNORECASE)


class BodyInvalid(ValueError):
    """The body is not a JSON object: answered 400, recorded as rejected when the sender is known."""


def body_parse(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; BodyInvalid says what is wrong."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyInvalid(f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
        raise BodyInvalid(f"body must be a JSON object, got {kind}")
    return value


def body_token(payload: dict[str, Any]) -> str | None:
    """The body's `Token` field when it is a non-empty string."""
    token = payload.get(TOKEN_FIELD)
    return token if isinstance(token, str) and token else None


def body_to_store(raw: bytes, payload: dict[str, Any]) -> str:
    """The text to store: as received, or re-serialized without the secret fields when it has any."""
    if any(name in payload for name in SECRET_FIELDS):
        return orjson.dumps({k: v for k, v in payload.items() if k not in SECRET_FIELDS}).decode()
    return raw.decode()  # it parsed as JSON, so it is valid UTF-8


def body_redacted(raw: bytes, token: str) -> str:
    """An unparseable body as text, with the sender's token and any token-looking member masked."""
    text = raw.decode("utf-8", errors="replace")
    if token:
        text = text.replace(token, "***")
    return _TOKEN_MEMBER.sub(r'\1"***"', text)
