"""`manage.py run_exchange_simulator` serves the API on the given port and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from apps.core.ports import free_port

BACKEND = Path(__file__).resolve().parents[2]


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


def test_the_command_serves_the_simulator_until_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aristobot.settings_test"}
    command = [sys.executable, "manage.py", "run_exchange_simulator", "--port", str(port), "--api-key", "K"]
    command += ["--api-secret", "S", "--balance", "USDT=250", "--price", "ETHUSDT=2500"]
    proc = subprocess.Popen(command, cwd=BACKEND, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                price = _get(f"http://127.0.0.1:{port}/api/v3/ticker/price?symbol=ETHUSDT")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert price == {"symbol": "ETHUSDT", "price": "2500.00000000"}
        accounts = _get(f"http://127.0.0.1:{port}/_sim/accounts")
        assert accounts == [{"api_key": "K", "balances": {"USDT": {"free": "250.00000000", "total": "250.00000000"}}}]
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
