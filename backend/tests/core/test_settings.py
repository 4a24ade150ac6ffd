"""A bad setting stops the process at start with a message naming the variable; a missing
secret is generated once for the installation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2]


def _start_with(code: str = "import django; django.setup()", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "aristobot.settings", "DJANGO_SECRET_KEY": "x", **env}
    environment.setdefault("ARISTOBOT_ENCRYPTION_KEY", "")
    return subprocess.run(
        [sys.executable, "-c", code],
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
def test_bad_value_stops_the_process_naming_the_variable(name, value, tmp_path):
    env = {"ARISTOBOT_ENCRYPTION_KEY": "", "DEBUG": "1", "ARISTOBOT_VAR_DIR": str(tmp_path), name: value}
    result = _start_with(**env)

    assert result.returncode != 0
    assert name in result.stderr


def test_missing_secrets_are_generated_once_private_and_reused(tmp_path):
    show = "from django.conf import settings; print(settings.SECRET_KEY, settings.ENCRYPTION_KEYS[0].decode())"
    env = {"DJANGO_SECRET_KEY": "", "ARISTOBOT_ENCRYPTION_KEY": "", "DEBUG": "0", "ARISTOBOT_VAR_DIR": str(tmp_path)}

    first = _start_with("import django; django.setup(); " + show, **env)
    second = _start_with("import django; django.setup(); " + show, **env)

    assert first.returncode == 0, first.stderr
    assert "generated DJANGO_SECRET_KEY, ARISTOBOT_ENCRYPTION_KEY" in first.stderr
    assert first.stdout == second.stdout and "generated" not in second.stderr
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600


def test_a_secret_set_in_the_environment_wins_over_the_generated_one(tmp_path):
    env = {
        "DJANGO_SECRET_KEY": "mine",
        "ARISTOBOT_ENCRYPTION_KEY": "",
        "DEBUG": "0",
        "ARISTOBOT_VAR_DIR": str(tmp_path),
    }

    result = _start_with(
        "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)", **env
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mine"
