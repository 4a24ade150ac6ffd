"""Typed readers for environment variables that stop the process on a bad value.

Every setting is read through these helpers so that a typo in `.env` fails at start with a
message naming the variable, instead of surfacing later as a strange behaviour.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path


class SettingError(SystemExit):
    """A configuration value is wrong: the process stops and says which variable."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"Configuration error: {name} {problem}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(name, f"must be true or false, got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(name, f"must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingError(name, f"must be at least {minimum}, got {value}")
    return value


def envdecimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingError(name, f"must be a number, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise SettingError(name, f"must be a non-negative number, got {raw!r}")
    return value


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


GENERATED_SECRETS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "ARISTOBOT_ENCRYPTION_KEY": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
}


def dotenv_read(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a dotenv file (comments, `export` and quotes as python-dotenv reads them)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").lstrip().partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[name.strip()] = value
    return values


def secrets_load_or_create(path: Path) -> tuple[dict[str, str], list[str]]:
    """This installation's generated secrets (var/secrets.env): made once, mode 0600, reused.

    Returns the values and the names generated now. A secret set in the environment or `.env`
    always wins over the generated one (the caller decides).
    """
    values = dotenv_read(path)
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    missing = [name for name in GENERATED_SECRETS if not values.get(name)]
    if not missing:
        return values, []
    for name in missing:
        values[name] = GENERATED_SECRETS[name]()
    text = (
        "# Secrets generated for this installation and reused on every start. Keep this file private\n"
        "# and backed up: without ARISTOBOT_ENCRYPTION_KEY, stored exchange keys cannot be read.\n"
        + "".join(f"{name}={value}\n" for name, value in values.items())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    if path.exists():  # another process made it meanwhile: use theirs
        tmp.unlink()
        return secrets_load_or_create(path)
    tmp.replace(path)
    return values, missing
