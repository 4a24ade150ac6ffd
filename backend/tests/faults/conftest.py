"""A whole stack under faults, shared by the tests of this folder (one setup per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import FaultStack


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    """Receiver, two engines, gateway and a Binance simulator on a Redis of their own (AOF always)."""
    running = FaultStack(tmp_path_factory.mktemp("faults"))
    try:
        running.setup(engines=2)
        yield running
    finally:
        running.stop()
