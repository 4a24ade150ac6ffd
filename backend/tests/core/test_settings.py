"""A bad setting stops the process at start with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2]


def _start_with(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "aristobot.settings", "DJANGO_SECRET_KEY": "x", **env}
    environment.setdefault("ARISTOBOT_ENCRYPTION_KEY", "")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BACKEND,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("WEBHOOK_MAX_BODY_BYTES", "lots"),
        ("REDIS_URL", "localhost:6379"),
        ("DATABASE_URL", "nonsense://"),
        ("ARISTOBOT_ENCRYPTION_KEY", "too-short"),
        ("PAPER_FEE_RATE", "-1"),
    ],
)
def test_bad_value_stops_the_process_naming_the_variable(name, value):
    env = {"ARISTOBOT_ENCRYPTION_KEY": "", "DEBUG": "1", name: value}
    result = _start_with(**env)

    assert result.returncode != 0
    assert name in result.stderr


def test_missing_secret_key_without_debug_stops_the_process():
    result = _start_with(DJANGO_SECRET_KEY="", DEBUG="0")

    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr
