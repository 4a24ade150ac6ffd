"""Bodies at the edges: what the alert parser accepts is accepted, deep nesting is refused, the token never stored
(plain or JSON-escaped)."""

from __future__ import annotations

import orjson
import pytest
import redis.asyncio as aioredis

from apps.webhooks.receiver.body import MAX_NESTING, TOO_DEEP, BodyInvalid, body_parse, body_redacted, body_to_store
from trading.alerts import payload_parse

from .conftest import ReceiverFactory
from .helpers import ALICE_ID, ALICE_TOKEN, stored_alerts

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def nested(depth: int) -> object:
    """An array nested `depth` levels deep."""
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        '{"Token": "%s", "Symbol": "BTCUSDT", "Action": "PING", "Close": NaN}',
        '{"Token": "%s", "Symbol": "BTCUSDT", "Action": "PING", "High": Infinity, "Low": -Infinity}',
        '\ufeff{"Token": "%s", "Symbol": "BTCUSDT", "Action": "PING"}',
        '\n\x0c {"Token": "%s", "Symbol": "BTCUSDT", "Action": "PING"} \n',
    ],
    ids=["nan", "infinity", "bom", "odd-whitespace"],
)
async def test_body_the_alert_parser_accepts_is_stored_without_the_token(
    receiver: ReceiverFactory, redis: aioredis.Redis, body: str
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", data=(body % ALICE_TOKEN).encode(), headers=TEXT)

    assert response.status == 200
    [alert] = await stored_alerts(redis)
    assert alert.user_id == ALICE_ID
    assert ALICE_TOKEN not in alert.body
    assert payload_parse(alert.body) == {k: v for k, v in payload_parse(body % ALICE_TOKEN).items() if k != "Token"}


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 255, 600, 1023])
async def test_deep_nesting_with_the_token_in_the_body_is_400_and_recorded_as_rejected(
    receiver: ReceiverFactory, redis: aioredis.Redis, depth: int
) -> None:
    arrays = depth - 1  # the body is the first level
    body = f'{{"Token": "{ALICE_TOKEN}", "Action": "PING", "Deep": {"[" * arrays}{"]" * arrays}}}'
    async with receiver() as client:
        response = await client.post("/webhook", data=body, headers=TEXT)
        answer = await response.json()

    assert response.status == 400
    assert answer["error"] == f"body is nested deeper than {MAX_NESTING} levels"
    [alert] = await stored_alerts(redis)
    assert alert.user_id == ALICE_ID and alert.rejected == answer["error"]
    assert ALICE_TOKEN not in alert.body


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 300, 1024, 5000])
async def test_deep_nesting_with_the_token_in_the_path_is_400_and_recorded(
    receiver: ReceiverFactory, redis: aioredis.Redis, depth: int
) -> None:
    body = b"[" * depth + b"]" * depth
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=body, headers=TEXT)

    assert response.status == 400
    [alert] = await stored_alerts(redis)
    assert alert.rejected.startswith("body ")


async def test_nesting_up_to_the_limit_is_accepted(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    body = orjson.dumps({"Token": ALICE_TOKEN, "Action": "PING", "Deep": nested(MAX_NESTING - 1)})
    async with receiver() as client:
        response = await client.post("/webhook", data=body)

    assert response.status == 200


async def test_deep_nesting_beyond_what_can_be_read_is_400_and_not_stored(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    body = b'{"Token": "' + ALICE_TOKEN.encode() + b'", "Deep": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    async with receiver() as client:
        response = await client.post("/webhook", data=body)

    assert response.status == 400
    assert await stored_alerts(redis) == []


async def test_token_is_removed_at_any_depth_and_in_any_case(receiver: ReceiverFactory, redis: aioredis.Redis) -> None:
    body = {
        "Token": ALICE_TOKEN,
        "Action": "PING",
        "TOKEN": "abt_another",
        "Inner": {"token": "abt_nested", "Keep": 1, "List": [{"tOkEn": "abt_in_a_list"}, "x"]},
        "Note": f"sent with {ALICE_TOKEN}",
    }
    async with receiver() as client:
        response = await client.post("/webhook", data=orjson.dumps(body))

    assert response.status == 200
    [alert] = await stored_alerts(redis)
    assert orjson.loads(alert.body) == {
        "Action": "PING",
        "Inner": {"Keep": 1, "List": [{}, "x"]},
        "Note": "sent with ***",
    }


async def test_lower_case_token_field_authenticates_as_the_parser_reads_fields(
    receiver: ReceiverFactory, redis: aioredis.Redis
) -> None:
    async with receiver() as client:
        response = await client.post("/webhook", data=orjson.dumps({"token": ALICE_TOKEN, "Action": "PING"}))

    assert response.status == 200
    [alert] = await stored_alerts(redis)
    assert orjson.loads(alert.body) == {"Action": "PING"}


def test_body_orjson_cannot_hold_is_stored_as_json_the_parser_reads_back() -> None:
    raw = ('{"Token": "t0ken-value", "Prix": 1e400, "Big": ' + "9" * 400 + ', "S": "\\ud800", "N": NaN}').encode()

    stored = body_to_store(body_parse(raw), "t0ken-value")

    assert payload_parse(stored) == {"Prix": "Infinity", "Big": int("9" * 400), "S": "\ud800", "N": "NaN"}
    stored.encode()  # storable in Redis: no lone surrogate in the text


async def test_integer_longer_than_python_reads_is_400_not_500(receiver: ReceiverFactory) -> None:
    body = b'{"Action": "PING", "Prix": ' + b"1" * 5000 + b"}"
    async with receiver() as client:
        response = await client.post(f"/webhook/{ALICE_TOKEN}", data=body)

    assert response.status == 400


def escaped(text: str, *positions: int) -> str:
    """`text` with the characters at `positions` written as JSON \\u escapes."""
    return "".join(f"\\u{ord(char):04x}" if index in positions else char for index, char in enumerate(text))


ESCAPED_TOKEN = escaped(ALICE_TOKEN, 5)  # abt_a\u006cice-…: the same string once parsed


def filled(template: str, *, depth: int = 40) -> str:
    """`template` with <T> the token, <E> the token JSON-escaped and <DEEP> arrays `depth` levels deep."""
    deep = "[" * depth + "]" * depth
    return template.replace("<T>", ALICE_TOKEN).replace("<E>", ESCAPED_TOKEN).replace("<DEEP>", deep)


def holds_the_token(stored: str) -> bool:
    return ALICE_TOKEN in stored or ESCAPED_TOKEN in stored or "\\u006cice" in stored


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/webhook", filled('{"\\u0054oken": "<E>", "Action": "PING", "Deep": <DEEP>}')),
        ("/webhook", filled('{"T\\u006fKEN": "<E>", "Action": "PING", "Deep": <DEEP>}', depth=600)),
        ("/webhook", filled('{"Token": "<T>", "Note": "sent with <E>", "Deep": <DEEP>}')),
        (f"/webhook/{ALICE_TOKEN}", filled('{"Action": "PING", "<E>": {"n": "<E>"}, "Deep": <DEEP>}')),
    ],
    ids=["escaped-key-and-token", "escaped-key-1000-deep", "escaped-token-in-a-note", "path-token-escaped-in-body"],
)
async def test_deep_body_is_recorded_without_the_token_even_json_escaped(
    receiver: ReceiverFactory, redis: aioredis.Redis, path: str, body: str
) -> None:
    async with receiver() as client:
        response = await client.post(path, data=body.encode(), headers=TEXT)

    assert response.status == 400
    [alert] = await stored_alerts(redis)
    assert alert.user_id == ALICE_ID and alert.rejected == f"body is nested deeper than {MAX_NESTING} levels"
    assert not holds_the_token(alert.body)
    recorded = orjson.loads(alert.body)  # the scrubbed object, cut at the depth limit
    assert not {"Token", "token", "TOKEN", "ToKEN"} & set(recorded)
    assert body_nesting(recorded) <= MAX_NESTING
    assert TOO_DEEP in alert.body


def body_nesting(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((body_nesting(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((body_nesting(item) for item in value), default=0)
    return 0


def test_rejected_object_keeps_what_the_parser_read_and_cuts_the_rest() -> None:
    raw = filled('{"Token": "<E>", "Action": "PING", "Prix": NaN, "Deep": <DEEP>}').encode()
    with pytest.raises(BodyInvalid) as rejected:
        body_parse(raw)

    stored = body_redacted(raw, ALICE_TOKEN, rejected.value.payload)

    recorded = payload_parse(stored)
    assert recorded["Action"] == "PING" and recorded["Prix"] == "NaN" and "Token" not in recorded
    assert not holds_the_token(stored)


@pytest.mark.parametrize(
    "raw",
    [
        filled('{"\\u0054oken": "<E>", "Action": BuyMarket'),
        '{"t\\u006fken": "' + escaped(ALICE_TOKEN, 0, 1, 2, 3) + '", "Action": BuyMarket',
        filled('{"Note": "with \\"<E>\\" inside", Action: BuyMarket'),
        filled('{"Action": BuyMarket, "Note": "<E>'),  # cut in the token's string
        filled("Action BuyMarket token=<T>"),
    ],
    ids=["escaped-key-and-value", "escaped-start", "escaped-inside-a-text", "unterminated", "plain-text"],
)
def test_unparseable_body_is_stored_without_the_token_even_json_escaped(raw: str) -> None:
    with pytest.raises(BodyInvalid) as rejected:
        body_parse(raw.encode())
    assert rejected.value.payload is None

    stored = body_redacted(raw.encode(), ALICE_TOKEN)

    assert not holds_the_token(stored) and "BuyMarket" in stored
