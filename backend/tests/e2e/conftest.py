"""Fixtures for end-to-end tests: the whole backend as separate processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.e2e.stack import Database, Stack


@pytest.fixture
def stack(tmp_path: Path, redis_server_url: str) -> Iterator[Stack]:
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    database = Database(tmp_path)
    running = Stack(tmp=tmp_path, redis_url=redis_server_url, database=database)
    try:
        running.manage("migrate", "--noinput")
        seeded = running.manage("seed_demo")
        running.webhook_url = re.search(r"Webhook URL: (\S+)", seeded).group(1)  # type: ignore[attr-defined, union-attr]
        running.broker_id = int(re.search(r"paper broker 'Paper' \(id (\d+)\)", seeded).group(1))  # type: ignore[attr-defined, union-attr]
        for name in ("gateway", "engine", "receiver"):
            running.start(name)
        running.wait_until(lambda: _healthy(running), what="receiver health")
        yield running
    finally:
        running.stop()
        database.drop()


def _healthy(stack: Stack) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{stack.receiver_port}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False
