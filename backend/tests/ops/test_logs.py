"""Structured logs: one JSON object per line with the process and the alert's trace id; no secret
ever written, whatever the format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from apps.core.logcontext import alert_trace, process_name_from_argv, trace_id_current
from apps.core.logformat import JsonFormatter, LogContextFilter, SecretRedactor, redact
from apps.webhooks.receiver import ReceiverConfig, build_app
from tests.receiver.helpers import ALICE_ID, ALICE_TOKEN, closed_port, static_tokens

BACKEND = Path(__file__).resolve().parents[2]
TOKEN = "abt_Zx3kP9qLm2Rt8vWy5sBn1cDf4gHj7kLo0pQrStUvWx"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, through the production handler setup (filters + JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.addFilter(SecretRedactor())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_process_message_and_trace_id(json_lines):
    log = logging.getLogger("aristobot.engine")
    with alert_trace("trace-123"):
        log.info("alert #%s %s", 7, "processed")
    log.warning("no alert here")

    first, second = _lines(json_lines)
    assert first["level"] == "INFO" and first["logger"] == "aristobot.engine"
    assert first["message"] == "alert #7 processed" and first["trace_id"] == "trace-123"
    assert first["time"].endswith("+00:00") and first["process"] and first["pid"] == os.getpid()
    assert "trace_id" not in second


def test_each_thread_sees_only_the_trace_id_of_its_own_alert(json_lines):
    log = logging.getLogger("aristobot.engine")
    barrier = threading.Barrier(2)

    def handle(trace_id: str) -> None:
        with alert_trace(trace_id):
            barrier.wait()
            log.info("handling %s", trace_id)

    threads = [threading.Thread(target=handle, args=(t,)) for t in ("t-one", "t-two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {(line["message"], line["trace_id"]) for line in _lines(json_lines)} == {
        ("handling t-one", "t-one"),
        ("handling t-two", "t-two"),
    }
    assert trace_id_current() == ""


def test_an_exception_is_one_line_with_its_traceback(json_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")

    (line,) = _lines(json_lines)
    assert "ValueError: boom" in line["exception"]
    assert len(json_lines.getvalue().splitlines()) == 1


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (f"token {TOKEN} refused", TOKEN),
        ("ccxt said apiKey=AKIAabcdef123456&signature=deadbeefcafe", "AKIAabcdef123456"),
        ("ccxt said apiKey=AKIAabcdef123456&signature=deadbeefcafe", "deadbeefcafe"),
        ('{"api_key": "k-123456789", "secret": "s-987654321"}', "s-987654321"),
        ("password=hunter2hunter2 for broker", "hunter2hunter2"),
        ("headers {'X-MBX-APIKEY': 'mbxkey12345678'}", "mbxkey12345678"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("passphrase: okx-pass-phrase", "okx-pass-phrase"),
    ],
)
def test_secrets_are_masked_in_messages(message, secret):
    assert secret not in redact(message)
    assert "***" in redact(message)


def test_ordinary_words_are_left_alone():
    text = "webhook tokens reloaded: 3; invalid token; tokens_loaded=2; secret_santa"
    assert redact(text) == text


def test_secrets_are_masked_in_arguments_tracebacks_and_configured_values(json_lines, settings):
    settings.WEBHOOK_TOKEN = "legacy-shared-token-value"
    log = logging.getLogger("aristobot.gateway")
    log.info("connecting with %s and %r", TOKEN, {"secret": "very-secret-value"})
    log.warning("legacy token %s in use", "legacy-shared-token-value")
    try:
        raise RuntimeError(f"exchange refused apiKey={'K' * 20}")
    except RuntimeError:
        log.exception("order failed")

    text = json_lines.getvalue()
    assert TOKEN not in text and "very-secret-value" not in text
    assert "legacy-shared-token-value" not in text
    assert "K" * 20 not in text
    assert len(_lines(json_lines)) == 3


def test_process_name_comes_from_the_command_line():
    assert process_name_from_argv(["manage.py", "run_trading_engine", "--test"]) == "engine"
    assert process_name_from_argv(["manage.py", "run_webhook_receiver"]) == "receiver"
    assert process_name_from_argv(["manage.py", "run_native_exchange_service"]) == "gateway"
    assert process_name_from_argv(["manage.py", "run_heartbeat"]) == "heartbeat"
    assert process_name_from_argv(["/app/.venv/bin/daphne", "-p", "8000", "aristobot.asgi:application"]) == "web"
    assert process_name_from_argv(["manage.py", "migrate"]) == "migrate"


def test_log_format_json_makes_every_process_write_json_with_its_name(tmp_path):
    code = (
        "import logging, django; django.setup(); logging.getLogger('aristobot').warning('key %s', 'abt_secretsecret')"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "aristobot.settings_test"}
    env["ARISTOBOT_VAR_DIR"] = str(tmp_path)

    result = subprocess.run(
        [sys.executable, "-c", code, "run_trading_engine"], cwd=BACKEND, env=env, capture_output=True, text=True
    )

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["process"] == "engine" and line["message"] == "key abt_***"


def test_a_bad_log_format_stops_the_process_naming_it(tmp_path):
    env = {**os.environ, "LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "aristobot.settings_test"}
    env["ARISTOBOT_VAR_DIR"] = str(tmp_path)

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=BACKEND, env=env, capture_output=True, text=True
    )

    assert result.returncode != 0 and "LOG_FORMAT" in result.stderr


async def test_receiver_lines_about_an_alert_carry_its_trace_id(json_lines):
    down = aioredis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5)
    app = build_app(redis=down, config=ReceiverConfig(), token_loader=static_tokens({ALICE_TOKEN: ALICE_ID}))
    from aiohttp.test_utils import TestClient, TestServer

    try:
        async with TestClient(TestServer(app)) as client:
            answer = await client.post(f"/webhook/{ALICE_TOKEN}", data=orjson.dumps({"Action": "PING"}))
    finally:
        await down.aclose()

    assert answer.status == 503
    (line,) = [line for line in _lines(json_lines) if "answering 503" in str(line["message"])]
    assert len(str(line["trace_id"])) == 32
    assert ALICE_TOKEN not in json_lines.getvalue()
