"""Alert bodies: read as a JSON object whatever the content type, and made safe to store (no token).

What is accepted is what the alert parser accepts (`trading.alerts.payload_parse`): a UTF-8 BOM,
surrounding whitespace, `NaN` and `Infinity`. orjson reads the usual body; the parser reads the
rest. A body nested deeper than MAX_NESTING is refused: nothing downstream needs it, and a deep
one costs every reader a deep recursion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from trading.alerts import SECRET_FIELDS, payload_parse
from trading.errors import AlertInvalid

TOKEN_FIELD = "Token"
MAX_NESTING = 32  # levels of objects and arrays, the body itself being the first
MASK = "***"
TOO_DEEP = "[nested too deep: removed]"  # what a rejected record keeps of the parts beyond MAX_NESTING
_SECRETS = frozenset(name.casefold() for name in SECRET_FIELDS)
_SECRET_LENGTHS = frozenset(len(name) for name in _SECRETS)  # a cheap test before casefold()
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
# A token-looking member in a body too broken to parse: masked before the text is stored.
_TOKEN_MEMBER = re.compile(r"""(["']?token["']?\s*[:=]\s*)("[^"]*"?|'[^']*'?|[^,}\s]*)""", re.IGNORECASE)
# A JSON string in a body too broken to parse (unterminated at the end of the text too).
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)(?:"|\\?\Z)', re.DOTALL)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class BodyInvalid(ValueError):
    """The body is refused (400), and recorded as rejected when the sender is known.

    `payload`: the object when the body parsed but failed a check, so its token can still name the sender.
    """

    def __init__(self, message: str, payload: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.payload = payload


@dataclass(frozen=True, slots=True)
class Body:
    """A body accepted as a JSON object; `strict` when orjson read it (it then re-serializes as read)."""

    raw: bytes
    payload: dict[str, Any]
    strict: bool


def body_parse(raw: bytes) -> Body:
    """The body as a JSON object; BodyInvalid says what is wrong."""
    try:
        value = orjson.loads(raw)
        strict = True
    except orjson.JSONDecodeError:
        value = _parse_leniently(raw)
        strict = False
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
        raise BodyInvalid(f"body must be a JSON object, got {kind}")
    depth = nesting_depth(value)
    if depth > MAX_NESTING:
        raise BodyInvalid(f"body is nested deeper than {MAX_NESTING} levels", value)
    return Body(raw, value, strict)


def _parse_leniently(raw: bytes) -> Any:
    """What orjson refuses, read as the alert parser reads it."""
    try:
        return payload_parse(raw)
    except AlertInvalid as exc:
        raise BodyInvalid(str(exc)) from None
    except RecursionError:
        raise BodyInvalid(f"body is nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise BodyInvalid(f"body is not valid JSON: {exc}") from None


def nesting_depth(value: Any) -> int:
    """Levels of objects and arrays in a parsed body (0 for a scalar), without recursion."""
    if not isinstance(value, dict | list):
        return 0
    depth = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        depth = max(depth, level)
        if depth > MAX_NESTING:
            return depth
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
    return depth


def body_token(payload: dict[str, Any]) -> str | None:
    """The body's `Token` field (any case, as the parser reads fields) when it is a non-empty string."""
    token = payload.get(TOKEN_FIELD)
    if token is None:
        token = next((value for key, value in payload.items() if key.casefold() == "token"), None)
    return token if isinstance(token, str) and token else None


def body_to_store(body: Body, token: str) -> str:
    """The text to store: as received, or re-serialized without the token when it has one.

    Removed: every secret field at any depth and in any case; masked: the sender's `token`
    wherever else it appears (a key, a value, inside a text).
    """
    if TOKEN_FIELD not in body.payload and not _holds_secret(body.payload, token):
        return body.raw.decode()  # it parsed, so it is valid UTF-8
    clean = _scrubbed(body.payload, token)
    if body.strict:
        return orjson.dumps(clean).decode()
    # The parser's own reading (NaN, lone surrogates, integers orjson cannot hold): plain JSON it reads back.
    return json.dumps(clean, ensure_ascii=True)


def _is_secret(key: str) -> bool:
    return len(key) in _SECRET_LENGTHS and key.casefold() in _SECRETS


def _holds_secret(payload: dict[str, Any], token: str) -> bool:
    stack: list[Any] = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if _is_secret(key) or token in key:
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and token in item:
            return True
    return False


def _scrubbed(value: dict[str, Any] | list[Any], token: str, level: int = 1) -> Any:
    """A copy without secret fields and with `token` masked; objects and arrays deeper than
    MAX_NESTING (the body being level 1) are replaced by TOO_DEEP, so the recursion is bounded."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    clean: list[tuple[Any, Any]] = []
    for key, item in items:
        if isinstance(key, str):
            if _is_secret(key):
                continue
            if token in key:
                key = key.replace(token, MASK)
        if isinstance(item, dict | list):
            item = _scrubbed(item, token, level + 1) if level < MAX_NESTING else TOO_DEEP
        elif isinstance(item, str) and token in item:
            item = item.replace(token, MASK)
        clean.append((key, item))
    return dict(clean) if isinstance(value, dict) else [item for _, item in clean]


def body_redacted(raw: bytes, token: str, payload: dict[str, Any] | None = None) -> str:
    """A rejected body made safe to store.

    `payload` (the body parsed but failed a check, such as the nesting depth): the object without
    its secret fields and with the sender's token masked, as the parser decoded them (escapes
    included), cut at MAX_NESTING. Otherwise the body as text, with the sender's token (plain or
    JSON-escaped) and any token-looking member masked.
    """
    if payload is not None:
        return json.dumps(_scrubbed(payload, token), ensure_ascii=True, separators=(",", ":"))
    text = raw.decode("utf-8", errors="replace")
    if "\\" in text:
        text = _STRING.sub(lambda match: _unescaped_secret(match, token), text)
    if token:
        text = text.replace(token, MASK)
    return _TOKEN_MEMBER.sub(rf'\1"{MASK}"', text)


def _unescaped_secret(match: re.Match[str], token: str) -> str:
    """A JSON string with escapes: decoded, with the token masked, when it holds the token or names
    a secret field (so _TOKEN_MEMBER then finds it); else left as it was."""
    if "\\" not in match[1]:
        return match[0]
    value = _ESCAPE.sub(_unescape_one, match[1])
    if token and token in value:
        return json.dumps(value.replace(token, MASK), ensure_ascii=True)
    if value.casefold() == "token" or _is_secret(value):
        return json.dumps(value, ensure_ascii=True)
    return match[0]


def _unescape_one(match: re.Match[str]) -> str:
    escape = match[1]
    if len(escape) == 5:  # uXXXX
        return chr(int(escape[1:], 16))
    return _SIMPLE_ESCAPES.get(escape, escape)
