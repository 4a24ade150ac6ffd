"""The developer tooling stays true: .env.example documents every setting, run.py and the Procfile work."""

from __future__ import annotations

import ast
import re
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


def test_run_repeats_the_curl_command_seed_demo_printed(run_py):
    output = [
        "Webhook URL: http://x/webhook/abc",
        "Send a test alert:",
        "  curl -s -d '{}' http://x/webhook/abc",
        "done",
    ]
    assert run_py.seed_facts(output)["curl"] == "curl -s -d '{}' http://x/webhook/abc"
    assert "curl" not in run_py.seed_facts(["no command here"])


def test_procfile_names_every_process_of_the_stack_and_commands_that_exist(run_py):
    procfile = run_py.parse_procfile((REPO / "Procfile").read_text()).processes
    assert list(procfile) == ["web", "receiver", "engine", "gateway", "heartbeat"]
    for name, command in procfile.items():
        if command.startswith("python manage.py "):
            command_name = command.split()[2]
            assert list(REPO.glob(f"backend/apps/*/management/commands/{command_name}.py")), name


def test_run_only_accepts_known_process_names(run_py):
    procfile = {"web": "w", "receiver": "r", "engine": "e", "gateway": "g"}
    assert list(run_py.processes_select(procfile, only="receiver,web", engines=1)) == ["web", "receiver"]
    with pytest.raises(run_py.StartupError, match="--only"):
        run_py.processes_select(procfile, only="web,nonsense", engines=1)


def test_run_starts_several_engines_and_only_engine_selects_them_all(run_py):
    procfile = {"web": "w", "engine": "e", "gateway": "g"}
    assert run_py.processes_select(procfile, only=None, engines=2) == {
        "web": "w",
        "engine1": "e",
        "engine2": "e",
        "gateway": "g",
    }
    assert list(run_py.processes_select(procfile, only="engine,gateway", engines=2)) == [
        "engine1",
        "engine2",
        "gateway",
    ]
    assert list(run_py.processes_select(procfile, only="engine", engines=1)) == ["engine"]


def test_run_engine_count_comes_from_the_option_then_engine_processes(run_py, monkeypatch):
    monkeypatch.delenv("ENGINE_PROCESSES", raising=False)
    assert run_py.engines_choose(3, {"ENGINE_PROCESSES": "1"}) == 3
    assert run_py.engines_choose(None, {"ENGINE_PROCESSES": "1"}) == 1
    monkeypatch.setenv("ENGINE_PROCESSES", "2")
    assert run_py.engines_choose(None, {}) == 2
    monkeypatch.setenv("ENGINE_PROCESSES", "two")
    with pytest.raises(run_py.StartupError, match="ENGINE_PROCESSES"):
        run_py.engines_choose(None, {})
    with pytest.raises(run_py.StartupError, match="--engines"):
        run_py.engines_choose(0, {})


def test_secrets_file_is_read_like_python_dotenv(tmp_path):
    from aristobot.env import dotenv_read

    path = tmp_path / ".env"
    path.write_text("# comment\nexport DEBUG=0\nA='quoted # kept'\nB=value # comment\nEMPTY=\n")
    assert dotenv_read(path) == {"DEBUG": "0", "A": "quoted # kept", "B": "value", "EMPTY": ""}
