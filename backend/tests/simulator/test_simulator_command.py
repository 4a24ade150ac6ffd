"""`python -m simulators.binance` serves the API on the given port and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
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
    command = [sys.executable, "-m", "simulators.binance", "--port", str(port), "--api-key", "K"]
    command += ["--api-secret", "S", "--balance", "USDT=250", "--price", "ETHUSDT=2500"]
    proc = subprocess.Popen(command, cwd=BACKEND, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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


def test_a_bad_option_is_refused_with_the_reason() -> None:
    command = [sys.executable, "-m", "simulators.binance", "--price", "FOOUSDT=1"]
    result = subprocess.run(command, cwd=BACKEND, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "no such market: FOOUSDT" in result.stderr


def test_the_simulator_needs_neither_django_nor_the_apps_nor_ccxt() -> None:
    """A test tool outside the apps: it runs on the domain's paper engine alone."""
    code = (
        "import sys, simulators.binance.app, simulators.core.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'apps', 'ccxt')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=BACKEND, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
