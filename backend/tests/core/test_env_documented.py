"""Every environment variable the backend reads is documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
READ = re.compile(
    r"""(?:env(?:str|bool|int|decimal|list)\(|os\.environ\.get\(|os\.getenv\(|os\.environ\[)\s*["']([A-Z][A-Z0-9_]*)["']"""
)
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}  # Django's own, chosen by manage.py and pytest.ini


def _documented() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def _read_by_backend() -> dict[str, str]:
    names: dict[str, str] = {}
    for path in (REPO / "backend").rglob("*.py"):
        if "tests" in path.relative_to(REPO / "backend").parts:
            continue
        for name in READ.findall(path.read_text(encoding="utf-8")):
            names.setdefault(name, str(path.relative_to(REPO)))
    return names


def test_every_variable_the_backend_reads_is_in_env_example():
    read = _read_by_backend()
    missing = {name: where for name, where in read.items() if name not in _documented() | NOT_SETTINGS}

    assert {"DEBUG", "LOG_FORMAT", "REDIS_URL"} <= set(read), "the pattern must find the settings' variables"
    assert not missing, f"read but not documented in .env.example: {missing}"
