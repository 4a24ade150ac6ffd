"""Fixtures of the trading domain tests: the paper BTC/USDT market and a 10,000 USDT paper account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.markets import Market
from trading.paper.book import PaperBook
from trading.paper.markets import PAPER_MARKETS


@pytest.fixture
def btc() -> Market:
    return PAPER_MARKETS["BTC/USDT"]


@pytest.fixture
def book() -> PaperBook:
    return PaperBook.new(Decimal(10_000), Decimal("0.001"))
