"""Idle, slow, half-sent and too many connections: they are cut off, and a real alert still gets through."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp import ClientConnectionResetError

from apps.webhooks.receiver.connections import ConnectionGuard
from apps.webhooks.receiver.runner import HttpErrorLog

from .conftest import ServedFactory
from .helpers import ALICE_TOKEN, stored_alerts

ALERT = orjson.dumps({"Symbol": "BTCUSDT", "Action": "PING"})
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def request_head(length: int, *, path: str = f"/webhook/{ALICE_TOKEN}") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def connect(port: int) -> Connection:
    return await asyncio.open_connection("127.0.0.1", port)


async def seconds_until_closed(reader: asyncio.StreamReader, *, within: float) -> float:
    """How long until the receiver closes the connection (whatever it answered first)."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except ConnectionError:  # reset, or our own write failed on the closed socket
        pass
    return time.monotonic() - start


async def is_open(reader: asyncio.StreamReader) -> bool:
    """True when the connection is neither closed nor reset (nothing is pending on it)."""
    try:
        async with asyncio.timeout(0.05):
            return bool(await reader.read(1))
    except TimeoutError:
        return True
    except ConnectionError:
        return False


async def post_alert(port: int) -> tuple[int, float]:
    """A real alert on a new connection: its status and how long the answer took."""
    start = time.monotonic()
    url = f"http://127.0.0.1:{port}/webhook/{ALICE_TOKEN}"
    async with aiohttp.ClientSession() as session, session.post(url, data=ALERT) as response:
        await response.read()
        return response.status, time.monotonic() - start


async def test_connection_that_sends_nothing_is_closed_after_the_idle_timeout(served: ServedFactory) -> None:
    async with served(idle_timeout=0.3) as receiver:
        reader, writer = await connect(receiver.port)
        waited = await seconds_until_closed(reader, within=3)
        writer.close()

    assert 0.2 < waited < 1.5


async def test_idle_keepalive_connection_is_closed_after_the_idle_timeout(served: ServedFactory) -> None:
    async with served(idle_timeout=0.3) as receiver:
        reader, writer = await connect(receiver.port)
        writer.write(request_head(len(ALERT)) + ALERT)
        answer = await reader.readuntil(b"\r\n\r\n")
        waited = await seconds_until_closed(reader, within=3)
        writer.close()

    assert answer.startswith(b"HTTP/1.1 200")
    assert waited < 1.5


async def test_headers_trickled_byte_by_byte_are_cut_off_after_the_idle_timeout(served: ServedFactory) -> None:
    async with served(idle_timeout=0.5) as receiver:
        reader, writer = await connect(receiver.port)
        start = time.monotonic()
        head = request_head(len(ALERT))
        try:
            for byte in head[:-2]:  # never completes the head
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
                if time.monotonic() - start > 3:
                    break
        except ConnectionError:
            pass
        waited = await seconds_until_closed(reader, within=1)
        writer.close()

    assert time.monotonic() - start < 1.5, f"still open after {time.monotonic() - start:.1f} s"
    assert waited < 1


async def test_body_trickled_slower_than_the_body_timeout_gets_408_and_is_disconnected(
    served: ServedFactory, redis: aioredis.Redis
) -> None:
    async with served(body_timeout=0.3) as receiver:
        reader, writer = await connect(receiver.port)
        writer.write(request_head(len(ALERT)) + ALERT[:5])
        answer = await asyncio.wait_for(reader.read(65536), timeout=2)
        waited = await seconds_until_closed(reader, within=2)
        writer.close()

    assert answer.startswith(b"HTTP/1.1 408")
    assert b"body not received within 0.3 s" in answer
    assert waited < 1.5  # the rest of the body is drained for at most LINGER_SECONDS, then the connection closes
    assert await stored_alerts(redis) == []


async def test_over_the_cap_the_oldest_idle_connections_are_closed_and_a_real_alert_gets_200(
    served: ServedFactory, redis: aioredis.Redis
) -> None:
    async with served(max_connections=10) as receiver:
        idle = [await connect(receiver.port) for _ in range(30)]
        await asyncio.sleep(0.1)
        status, seconds = await post_alert(receiver.port)
        still_open = [await is_open(reader) for reader, _ in idle]
        counters = receiver.guard.snapshot()
        for _, writer in idle:
            writer.close()

    assert status == 200 and seconds < 0.5
    assert len(await stored_alerts(redis)) == 1
    assert still_open[:21] == [False] * 21  # the alert's connection pushed out one more
    assert all(still_open[-5:])
    assert counters["evicted"] == 21 and counters["refused"] == 0


async def test_over_the_cap_with_every_connection_waiting_for_its_body_the_oldest_is_closed(
    served: ServedFactory, redis: aioredis.Redis
) -> None:
    async with served(max_connections=3, body_timeout=5) as receiver:
        waiting = [await connect(receiver.port) for _ in range(3)]
        for _, writer in waiting:
            writer.write(request_head(len(ALERT)) + ALERT[:3])  # in the handler, waiting for the rest of the body
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        status, seconds = await post_alert(receiver.port)
        still_open = [await is_open(reader) for reader, _ in waiting]
        counters = receiver.guard.snapshot()
        for _, writer in waiting:
            writer.close()

    assert status == 200 and seconds < 0.5
    assert len(await stored_alerts(redis)) == 1
    assert still_open == [False, True, True]
    assert counters["evicted_reading"] == 1 and counters["refused"] == 0


class _Transport:
    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


def test_over_the_cap_with_every_connection_storing_an_alert_a_new_one_is_refused() -> None:
    guard = ConnectionGuard(2)
    factory = guard.protocol_factory(asyncio.Protocol)
    opened = [factory() for _ in range(2)]
    transports = [_Transport() for _ in opened]
    for protocol, transport in zip(opened, transports, strict=True):
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.busy = 1  # type: ignore[attr-defined]  # a request whose body is in, being stored

    refused = factory()
    refused_transport = _Transport()
    refused.connection_made(refused_transport)  # type: ignore[arg-type]

    assert refused_transport.aborted and not any(transport.aborted for transport in transports)
    assert guard.snapshot()["refused"] == 1 and guard.snapshot()["evicted"] == 0


async def hold_connections_waiting_for_a_body(port: int, path: str, stop: asyncio.Event) -> None:
    """The reviewer's attack: a request head announcing a body that never comes, again as soon as it is cut."""
    while not stop.is_set():
        try:
            reader, writer = await connect(port)
            writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode())
            await writer.drain()
            async with asyncio.timeout(10):
                await reader.read()  # until the receiver closes it (408, 401 or closed over the cap)
            writer.close()
        except (ConnectionError, TimeoutError):
            await asyncio.sleep(0.01)


async def post_alert_at_once(port: int) -> bytes:
    """A real alert as TradingView sends it: head and body in one packet; the status line of the answer."""
    body = orjson.dumps({"Token": ALICE_TOKEN, "Symbol": "BTCUSDT", "Action": "PING"})
    reader, writer = await connect(port)
    try:
        head = f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 3)
    except ConnectionError as exc:
        return repr(exc).encode()
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/webhook", "/webhook/abt_not-a-token"], ids=["token-in-body", "bad-path-token"])
async def test_connections_held_waiting_for_a_body_do_not_block_real_alerts(
    served: ServedFactory, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.INFO)
    stop = asyncio.Event()
    async with served(max_connections=16) as receiver:
        attackers = [
            asyncio.create_task(hold_connections_waiting_for_a_body(receiver.port, path, stop)) for _ in range(24)
        ]
        await asyncio.sleep(0.5)
        answers = []
        for _ in range(10):
            answers.append(await post_alert_at_once(receiver.port))
            await asyncio.sleep(0.1)
        stop.set()
        for attacker in attackers:
            attacker.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)

    assert [answer[:12] for answer in answers] == [b"HTTP/1.1 200"] * 10
    assert len(await stored_alerts(redis)) == 10
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_bad_path_or_header_token_is_401_before_the_body_arrives(served: ServedFactory) -> None:
    async with served(body_timeout=5) as receiver:
        answers = []
        for head in (
            request_head(1000, path="/webhook/abt_not-a-token"),
            request_head(1000, path="/webhook").replace(b"\r\n\r\n", b"\r\nX-Webhook-Token: abt_nope\r\n\r\n"),
        ):
            reader, writer = await connect(receiver.port)
            writer.write(head)  # and no body
            start = time.monotonic()
            answers.append((await asyncio.wait_for(reader.readline(), 2), time.monotonic() - start))
            writer.close()

    for status_line, seconds in answers:
        assert status_line.startswith(b"HTTP/1.1 401") and seconds < 0.5


async def test_client_gone_mid_body_is_counted_and_logs_no_traceback(
    served: ServedFactory, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with served() as receiver:
        for path in ("/webhook", f"/webhook/{ALICE_TOKEN}") * 10:
            _, writer = await connect(receiver.port)
            writer.write(request_head(len(ALERT), path=path) + ALERT[:5])  # half the body, then gone
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.transport.abort()
        await asyncio.sleep(0.2)
        health_url = f"http://127.0.0.1:{receiver.port}/health"
        async with aiohttp.ClientSession() as session, session.get(health_url) as response:
            health = await response.json()

    assert health["rejected_by_reason"]["disconnected"] == 20
    assert await stored_alerts(redis) == []
    logged = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert not [record for record in logged if record.levelno >= logging.ERROR or record.exc_info]
    assert len(logged) <= 1


def test_http_error_log_writes_a_client_disconnect_in_one_throttled_line(caplog: pytest.LogCaptureFixture) -> None:
    log = HttpErrorLog(logging.getLogger("test.receiver.http"))
    caplog.set_level(logging.DEBUG, logger="test.receiver.http")
    for error in (ConnectionResetError("Connection lost"), ClientConnectionResetError("Connection lost")) * 50:
        log.exception("Error handling request from %s", "203.0.113.7", exc_info=error)

    [line] = caplog.records
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert line.getMessage() == "client 203.0.113.7 disconnected mid-request: Connection lost"


async def test_health_shows_the_connection_counters(served: ServedFactory) -> None:
    async with served(max_connections=20) as receiver:
        health_url = f"http://127.0.0.1:{receiver.port}/health"
        async with aiohttp.ClientSession() as session, session.get(health_url) as response:
            health = await response.json()

    assert health["connections"] == {"open": 1, "limit": 20, "evicted": 0, "evicted_reading": 0, "refused": 0}


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["bad-content-length", "bad-header", "bad-chunk", "line-too-long"],
)
async def test_malformed_request_is_answered_400_and_logged_in_one_line(
    served: ServedFactory, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    async with served() as receiver:
        reader, writer = await connect(receiver.port)
        writer.write(request_bytes)
        answer = await asyncio.wait_for(reader.read(65536), timeout=2)
        writer.close()
        await asyncio.sleep(0.05)

    assert answer.split(b" ", 2)[1] == b"400"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    [line] = [record for record in caplog.records if "malformed HTTP request" in record.getMessage()]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert "\n" not in line.getMessage() and "127.0.0.1" in line.getMessage()
