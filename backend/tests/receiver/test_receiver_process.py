"""The real `manage.py run_webhook_receiver` process: starts, stores an alert, survives a flood of idle
connections, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from apps.core.streams import WEBHOOK_RAW

from .helpers import LEGACY_TOKEN, closed_port

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


def _post(url: str, body: bytes) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/plain"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "receiver exited during start"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return dict(json.loads(response.read()))
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"receiver not healthy after {timeout}s")


def _migrated_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aristobot.settings_test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ARISTOBOT_VAR_DIR": str(tmp_path),
        "REDIS_URL": redis_url,
        "WEBHOOK_TOKEN": LEGACY_TOKEN,
        "LOG_LEVEL": "INFO",
    }
    subprocess.run([sys.executable, str(MANAGE), "migrate", "--noinput"], env=env, check=True, capture_output=True)
    return env


@pytest.mark.integration
def test_run_webhook_receiver_stores_an_alert_and_stops_on_sigterm(redis_url: str, tmp_path: Path) -> None:
    env = _migrated_env(redis_url, tmp_path)
    port = closed_port()
    log = tmp_path / "receiver.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(MANAGE), "run_webhook_receiver", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            health = _wait_healthy(f"http://127.0.0.1:{port}/health", proc)
            status, answer = _post(
                f"http://127.0.0.1:{port}/webhook",
                json.dumps({"Token": LEGACY_TOKEN, "UserID": 1, "Symbol": "BTCUSDT", "Action": "PING"}).encode(),
            )
            refused, _ = _post(f"http://127.0.0.1:{port}/webhook/wrong-token", b"{}")
        finally:
            proc.send_signal(signal.SIGTERM)
            returncode = proc.wait(timeout=15)

    assert health["redis_reachable"] is True and health["legacy_token"] is True
    assert status == 200 and answer["status"] == "received"
    assert refused == 401
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = client.xrange(WEBHOOK_RAW) or []
    finally:
        client.close()
    assert [(fields or {}).get("trace_id") for _, fields in entries] == [answer["trace_id"]]
    assert returncode == 0
    output = log.read_text()
    assert f"listening on http://127.0.0.1:{port} (0 tokens loaded, legacy token on)" in output
    assert LEGACY_TOKEN not in output and "wrong-token" not in output


@pytest.mark.integration
def test_run_webhook_receiver_on_an_unmigrated_database_stops_with_a_clear_message(
    redis_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aristobot.settings_test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "ARISTOBOT_VAR_DIR": str(tmp_path),
        "REDIS_URL": redis_url,
    }
    port = str(closed_port())
    result = subprocess.run(
        [sys.executable, str(MANAGE), "run_webhook_receiver", "--host", "127.0.0.1", "--port", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 1
    assert "cannot load webhook tokens from the database" in result.stderr
    assert "Traceback" not in result.stderr


def _file_limit_1024() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.mark.integration
def test_real_alert_gets_200_at_once_while_1100_idle_connections_are_open_under_a_1024_file_limit(
    redis_url: str, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1400:
        pytest.skip("this test opens 1,100 connections itself")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1400), hard))
    env = _migrated_env(redis_url, tmp_path)
    port = closed_port()
    idle: list[socket.socket] = []
    with (tmp_path / "receiver.log").open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(MANAGE), "run_webhook_receiver", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_file_limit_1024,
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}/health", proc)
            idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(1100)]
            time.sleep(0.5)
            start = time.monotonic()
            status, answer = _post(
                f"http://127.0.0.1:{port}/webhook",
                json.dumps({"Token": LEGACY_TOKEN, "UserID": 1, "Symbol": "BTCUSDT", "Action": "PING"}).encode(),
            )
            seconds = time.monotonic() - start
            health = _wait_healthy(f"http://127.0.0.1:{port}/health", proc)
        finally:
            for connection in idle:
                connection.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)

    assert status == 200 and answer["status"] == "received"
    assert seconds < 0.5
    connections = health["connections"]
    assert isinstance(connections, dict)
    assert connections["limit"] == 512 and connections["open"] <= 512
    assert connections["evicted"] >= 1100 - 512
