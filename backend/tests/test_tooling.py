"""The developer tooling stays true: .env.example documents every setting, run.py's helpers work."""

from __future__ import annotations

import ast
import re
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETTINGS = REPO / "backend" / "aristobot" / "settings.py"
ENV_EXAMPLE = REPO / ".env.example"
# Read by scripts/run.py (`make run`), not by Django.
RUN_ONLY_VARIABLES = {"REDIS_PORT", "ENGINE_PROCESSES"}


def settings_variables() -> set[str]:
    """Every NAME in an `env*("NAME", ...)` call of settings.py."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("env")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def documented_variables() -> set[str]:
    """Every NAME with a `NAME=` or commented-out `#NAME=` line in .env.example."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))


def test_settings_parser_finds_the_known_variables():
    assert {"DEBUG", "DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL"} <= settings_variables()


def deployment_variables() -> set[str]:
    """Every ${NAME} the compose file and the Caddyfile use (read by Docker Compose, not Django)."""
    text = (REPO / "docker-compose.yml").read_text() + (REPO / "deploy" / "Caddyfile").read_text()
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


# That every variable read is documented: tests/core/test_env_documented.py.
def test_env_example_documents_only_variables_that_are_read():
    unknown = documented_variables() - settings_variables() - RUN_ONLY_VARIABLES - deployment_variables()
    assert not unknown, f".env.example documents variables nothing reads: {sorted(unknown)}"


def test_every_variable_in_env_example_has_a_comment_line_above_it():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?[A-Z][A-Z0-9_]*=", line):
            above = lines[index - 1] if index else ""
            is_comment = above.startswith("# ") and not re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", above)
            assert is_comment, f"no comment line above {line!r}"


def test_run_generates_secrets_once_private_and_reuses_them(run_py, tmp_path):
    console = run_py.Console(["run"])
    path = tmp_path / "secrets.env"

    first = run_py.installation_secrets(path, console)
    second = run_py.installation_secrets(path, console)

    assert set(first) == {"DJANGO_SECRET_KEY", "ARISTOBOT_ENCRYPTION_KEY"}
    assert first == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    from cryptography.fernet import Fernet

    Fernet(first["ARISTOBOT_ENCRYPTION_KEY"].encode())  # a valid key, or this raises


def test_run_repeats_the_curl_command_seed_demo_printed(run_py):
    output = ["Webhook URL: http://x/webhook/abc", "Send a test alert:", "  curl -s -d '{}' \\", "    http://x", "done"]
    assert run_py.curl_command(output) == ["curl -s -d '{}' \\", "http://x"]
    assert run_py.curl_command(["no command here"]) == []


def test_run_only_accepts_known_process_names(run_py):
    services = run_py.stack_services(sys.executable)
    assert [s.name for s in run_py.services_select(services, "web,receiver")] == ["web", "receiver"]
    with pytest.raises(run_py.StartupError, match="--only"):
        run_py.services_select(services, "web,nonsense")


def test_run_starts_several_engines_and_only_engine_selects_them_all(run_py):
    services = run_py.stack_services(sys.executable, engines=2)
    engines = [s for s in services if s.command == "run_trading_engine"]
    assert [s.name for s in engines] == ["engine1", "engine2"]
    assert [s.name for s in run_py.services_select(services, "engine,gateway")] == ["engine1", "engine2", "gateway"]
    assert [s.name for s in run_py.stack_services(sys.executable) if s.command == "run_trading_engine"] == ["engine"]


def test_run_engine_count_comes_from_the_option_then_engine_processes(run_py, monkeypatch):
    monkeypatch.delenv("ENGINE_PROCESSES", raising=False)
    assert run_py.engines_choose(3, {"ENGINE_PROCESSES": "1"}) == 3
    assert run_py.engines_choose(None, {"ENGINE_PROCESSES": "1"}) == 1
    monkeypatch.setenv("ENGINE_PROCESSES", "2")
    assert run_py.engines_choose(None, {}) == 2
    monkeypatch.setenv("ENGINE_PROCESSES", "two")
    with pytest.raises(run_py.StartupError, match="ENGINE_PROCESSES"):
        run_py.engines_choose(None, {})


def test_run_reads_dotenv_like_python_dotenv(run_py, tmp_path):
    path = tmp_path / ".env"
    path.write_text("# comment\nexport DEBUG=0\nA='quoted # kept'\nB=value # comment\nEMPTY=\n")
    assert run_py.dotenv_read(path) == {"DEBUG": "0", "A": "quoted # kept", "B": "value", "EMPTY": ""}
