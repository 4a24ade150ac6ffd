"""Shared fixtures: a real Redis server, and three users (owner, colleague, stranger)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from apps.core.ports import free_port, port_wait


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A real redis-server: TEST_REDIS_URL when the test script started one, else our own."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test` (it installs it) or apt-get install redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="aristobot-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        port_wait(port, timeout=10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server_url: str, settings) -> Iterator[str]:
    """The real Redis, emptied before the test, and set as settings.REDIS_URL."""
    import redis

    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    settings.REDIS_URL = redis_server_url
    yield redis_server_url


@pytest.fixture
def alice(django_user_model):
    """The owner of the objects under test."""
    return django_user_model.objects.create_user(username="alice", password="alice-password")


@pytest.fixture
def bob(django_user_model):
    """A colleague with objects of his own."""
    return django_user_model.objects.create_user(username="bob", password="bob-password")


@pytest.fixture
def charlie(django_user_model):
    """A stranger who must never see alice's or bob's objects."""
    return django_user_model.objects.create_user(username="charlie", password="charlie-password")


@pytest.fixture(autouse=True)
def _engine_seats_released(monkeypatch) -> Iterator[None]:
    """Engines a test made and never closed give up the engine seat when it ends, so that the
    next test's engine can become active."""
    from apps.webhooks.engine.seat import EngineSeat

    taken: list[EngineSeat] = []
    real_take = EngineSeat.take

    def take(self: EngineSeat) -> bool:
        taken.append(self)
        return real_take(self)

    monkeypatch.setattr(EngineSeat, "take", take)
    yield
    for seat in taken:
        seat.release()


def script_load(name: str) -> ModuleType:
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"aristobot_{name}_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_py() -> ModuleType:
    """scripts/run.py, what `make run` runs, loaded afresh for each test module."""
    return script_load("run")


@pytest.fixture(scope="module")
def e2e_stack() -> ModuleType:
    """scripts/e2e_stack.py, the browser tests' launcher."""
    return script_load("e2e_stack")
