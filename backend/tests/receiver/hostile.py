"""Hostile webhook requests as hypothesis strategies: shared by the receiver fuzz test and bench/fuzz_receiver.py.

Arbitrary bytes, JSON of random shapes, huge numbers, NaN and Infinity, deep nesting, odd encodings,
bodies over the size limit, alert-shaped bodies with bad values, and the token in odd places
(path, header, body in any case, nested, in arrays, as a value), or a wrong or missing token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

TOKEN_KEYS = ("Token", "token", "TOKEN", "tOkEn")
ALERT_ACTIONS = ("PING", "BuyMarket", "SellMarket", "BuyLimit", "SellLimit", "MAJ", "MISS", "buymarket", "", "Nope")
WRONG_TOKEN = "abt_wrong-token-for-fuzzing"


@dataclass(frozen=True)
class HostileRequest:
    """One POST to the receiver: the path (token in it or not), headers and body."""

    path: str
    headers: dict[str, str]
    body: bytes
    label: str  # what kind of body, for counting and for a failure's report

    def __repr__(self) -> str:
        return f"HostileRequest({self.label}, {self.path[:24]}…, {self.headers}, {self.body[:200]!r})"


def _huge_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["1e400", "-1e400", "1" * 40, "0.000000000000000000001", "NaN", "-0", "1e-400"]),
    )


def _json_values(token: str) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        _huge_numbers(),
        st.text(max_size=20),
        st.sampled_from([token, f"Bearer {token}", WRONG_TOKEN]),
    )
    keys = st.one_of(st.text(max_size=8), st.sampled_from(TOKEN_KEYS), st.just(token))
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=16,
    )


def _alert_shaped(token: str) -> st.SearchStrategy[dict[str, Any]]:
    value = st.one_of(_huge_numbers(), st.text(max_size=12), st.none(), st.lists(st.integers(), max_size=2))
    return st.fixed_dictionaries(
        {"Action": st.sampled_from(ALERT_ACTIONS), "Symbol": st.sampled_from(["BTCUSDT", "BTC/USDT", "", "???"])},
        optional={
            "Prix": value,
            "PrixSL": value,
            "PrixTP": value,
            "PourCent": value,
            "UserExchangeID": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=5)),
            "UserID": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=5)),
            "BarTime": st.one_of(st.text(max_size=25), st.integers(), st.just("2025-01-01T12:05:00Z")),
            "Interval": st.sampled_from(["1", "5", "60", "D", "5m", "", "-1", "99999999999"]),
            "Inner": _json_values(token),
        },
    )


def _deep(token: str) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        depth = draw(st.integers(min_value=1, max_value=1500))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"token":1,"x":', b"}]")]))
        inner = opener * depth + b"1" + closer * depth
        if draw(st.booleans()):
            return b'{"Token": ' + json.dumps(token).encode() + b', "Action": "PING", "Deep": ' + inner + b"}"
        return inner

    return build()


def _encoded(value: Any) -> st.SearchStrategy[bytes]:
    text = json.dumps(value, allow_nan=True, default=str)
    return st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "ascii-escaped"]).map(
        lambda encoding: (
            json.dumps(value, allow_nan=True, default=str, ensure_ascii=True).encode()
            if encoding == "ascii-escaped"
            else text.encode(encoding, errors="replace")
        )
    )


def _bodies(token: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """(label, body)."""
    with_token = st.tuples(st.sampled_from(TOKEN_KEYS), st.dictionaries(st.text(max_size=8), _json_values(token)))
    return st.one_of(
        st.binary(max_size=300).map(lambda raw: ("bytes", raw)),
        _json_values(token).flatmap(_encoded).map(lambda raw: ("json", raw)),
        with_token.flatmap(lambda pair: _encoded({**pair[1], pair[0]: token})).map(lambda raw: ("object", raw)),
        _alert_shaped(token).flatmap(lambda alert: _encoded({"Token": token, **alert})).map(lambda raw: ("alert", raw)),
        _deep(token).map(lambda raw: ("deep", raw)),
        st.integers(min_value=60_000, max_value=70_000).map(
            lambda size: ("large", b'{"Token": "' + token.encode() + b'", "Pad": "' + b"x" * size + b'"}')
        ),
    )


@st.composite
def hostile_requests(draw: st.DrawFn, token: str) -> HostileRequest:
    """A request with a hostile body, the token (`token`: a valid one) somewhere or nowhere."""
    label, body = draw(_bodies(token))
    where = draw(st.sampled_from(["body", "path", "header", "wrong-path", "none"]))
    content_type = draw(st.sampled_from(["text/plain; charset=utf-8", "application/json", "application/x-www-form"]))
    headers = {"Content-Type": content_type}
    path = "/webhook"
    if where == "path":
        path = f"/webhook/{token}"
    elif where == "wrong-path":
        path = f"/webhook/{WRONG_TOKEN}"
    elif where == "header":
        headers["X-Webhook-Token"] = token
    return HostileRequest(path=path, headers=headers, body=body, label=f"{label}/{where}")


def secret_keys(value: Any) -> list[str]:
    """Every key at any depth that names a token, in any case (what must never be stored)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.extend(key for key in item if key.casefold() == "token")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
