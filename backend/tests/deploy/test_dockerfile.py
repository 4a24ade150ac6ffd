"""The Dockerfile builds the way `make` does: same requirements file, same npm commands as
scripts/frontend.sh, collectstatic that works with throwaway secrets, a user without privileges."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _runs() -> list[str]:
    return [rest for keyword, rest in _instructions() if keyword == "RUN"]


def _npm_commands(text: str) -> set[str]:
    return {" ".join(match.split()[:2]) for match in re.findall(r"\bnpm ((?:ci|run \w+|install)\b)", text)}


def test_two_stages_node_for_the_frontend_and_slim_python_for_the_runtime():
    stages = [rest for keyword, rest in _instructions() if keyword == "FROM"]

    assert len(stages) == 2
    assert re.fullmatch(r"node:\d+[-\w.]* AS frontend", stages[0])
    assert re.fullmatch(r"python:3\.1[1-9][-\w.]*slim[-\w.]* AS runtime", stages[1])


def test_frontend_is_built_with_the_npm_commands_scripts_frontend_sh_uses():
    script = (REPO / "scripts" / "frontend.sh").read_text()
    runs = " ; ".join(_runs())

    assert {"install", "run build"} <= _npm_commands(runs)
    assert _npm_commands(runs) <= _npm_commands(script)
    assert "COPY --from=frontend /app/frontend/dist/ frontend/dist/" in [
        f"{k} {r}" for k, r in _instructions() if k == "COPY"
    ]


def test_python_packages_come_from_the_requirements_file_make_installs():
    makefile = (REPO / "Makefile").read_text()
    dev = (REPO / "requirements-dev.txt").read_text().splitlines()

    assert "pip install -r requirements.txt" in _runs()
    assert "requirements.txt" in makefile and "-r requirements-dev.txt" in makefile
    assert "-r requirements.txt" in dev  # make installs the runtime requirements plus test tools


def test_every_file_the_dockerfile_copies_exists():
    for keyword, rest in _instructions():
        if keyword == "COPY" and not rest.startswith("--from"):
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"


def test_the_image_runs_as_an_unprivileged_user_and_starts_the_web_process():
    instructions = _instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    last_run = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "RUN")
    user_at = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())

    assert users and users[-1] not in ("root", "0") and user_at > last_run
    cmd = next(rest for keyword, rest in instructions if keyword == "CMD")
    assert yaml.safe_load(cmd) == compose["services"]["web"]["command"]


def test_dockerignore_keeps_secrets_and_local_data_out_of_the_image():
    ignored = (REPO / ".dockerignore").read_text().splitlines()

    assert {".env", "var/", ".venv/", "frontend/node_modules/", ".git"} <= set(ignored)


def test_collectstatic_step_works_with_throwaway_secrets_and_leaves_none_behind(tmp_path):
    step = next(run for run in _runs() if "collectstatic" in run)
    variables = dict(re.findall(r"\b([A-Z_]+)=(\S+)", step))
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "ARISTOBOT_ENCRYPTION_KEY")}
    env.update(variables, ARISTOBOT_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="aristobot.settings")

    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=REPO / "backend",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert variables["DEBUG"] == "0"
    assert (tmp_path / "static" / "admin" / "css" / "base.css.gz").is_file()  # compressed for WhiteNoise
    assert not (tmp_path / "secrets.env").exists()
