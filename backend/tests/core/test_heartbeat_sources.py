"""Heartbeat sources and publisher: a seeded walk, a CSV replay, public candles through ccxt (faked)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
import redis
from django.core.management import call_command

from apps.core.heartbeat.publisher import HeartbeatPublisher
from apps.core.heartbeat.sources import CcxtSource, MultiCcxtSource, ReplaySource, SimSource
from apps.core.heartbeat.status import heartbeat_last
from apps.core.heartbeat.symbols import symbol_unified, symbols_by_exchange
from apps.core.streams import HEARTBEAT, Candle
from trading.live.ohlcv import OhlcvClient

START = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def _walk(seed: int, count: int = 30) -> list[Candle]:
    source = SimSource(lambda: ["BTC/USDT", "ETH/USDT"], seed=seed, start=START)
    return [candle for _ in range(count) for candle in source.next_candles()]


def test_the_sim_walk_is_the_same_for_the_same_seed_and_differs_for_another():
    first, again, other = _walk(7), _walk(7), _walk(8)

    assert first == again and first != other
    assert first[0].time == "2026-03-02T12:00:00+00:00" and first[-1].time == "2026-03-02T12:29:00+00:00"
    btc = [c for c in first if c.symbol == "BTC/USDT"]
    assert btc[0].open == Decimal(40000) and Decimal(36000) < btc[-1].close < Decimal(44000)
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in first)
    assert all(b.open == a.close for a, b in itertools.pairwise(btc))
    assert next(c for c in first if c.symbol == "ETH/USDT").open == Decimal(2000)


def test_replay_reads_a_csv_one_candle_time_at_a_time(tmp_path: Path):
    path = tmp_path / "feed.csv"
    path.write_text(
        "time,symbol,open,high,low,close,volume\n"
        "2026-03-02T12:01:00Z,BTC/USDT,40100,40200,40000,40150,2\n"
        "2026-03-02T12:00:00Z,BTC/USDT,40000,40100,39900,40100,1\n"
        "2026-03-02T12:00:00Z,ETH/USDT,2000,2010,1990,2005,5\n"
        "1772452920000,BTC/USDT,40150,40150,37990,38100,3\n"
    )
    source = ReplaySource(path)

    groups = [source.next_candles() for _ in range(4)]

    assert [[c.symbol for c in g] for g in groups[:3]] == [["BTC/USDT", "ETH/USDT"], ["BTC/USDT"], ["BTC/USDT"]]
    assert groups[2][0].time == "2026-03-02T12:02:00+00:00" and groups[2][0].low == Decimal(37990)
    assert groups[3] == [] and source.exhausted


def test_publisher_paces_candles_and_keeps_the_latest_price_per_symbol(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    now = [0.0]
    source = SimSource(lambda: ["BTC/USDT"], seed=1, start=START)
    publisher = HeartbeatPublisher(client, source, seconds_per_candle=5, clock=lambda: now[0])

    assert publisher.step() is True
    assert publisher.step() is False  # not due yet: time is compressed, not skipped
    now[0] = 5.0
    assert publisher.step() is True

    entries: Any = client.xrange(HEARTBEAT)
    candles = [Candle.from_fields(fields) for _, fields in entries]
    assert [c.time for c in candles] == ["2026-03-02T12:00:00+00:00", "2026-03-02T12:01:00+00:00"]
    last = heartbeat_last(client)["BTC/USDT"]
    assert last.close == candles[-1].close and last.time == datetime(2026, 3, 2, 12, 1, tzinfo=UTC)
    client.close()


class FakeExchange:
    """Stands in for a ccxt exchange: candles from a list, or a network error."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = rows
        self.fail: Exception | None = None
        self.calls = 0

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None) -> list:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return [row for row in self.rows if since is None or row[0] >= since]


def test_ccxt_source_publishes_closed_candles_only_and_backs_off_on_network_errors():
    minute = 60_000
    base = 1772452800000  # 2026-03-02 12:00 UTC
    exchange = FakeExchange([[base + i * minute, 100, 101, 99, 100 + i, 1] for i in range(5)])
    now = [(base + 4 * minute + 30_000) / 1000]  # the 12:04 candle is still open
    source = CcxtSource(OhlcvClient("binance", exchange=exchange), lambda: ["BTC/USDT"], now=lambda: now[0])

    first = source.next_candles()
    assert [c.time for c in first] == ["2026-03-02T12:03:00+00:00"]  # only the last closed one, no history

    exchange.fail = ccxt.NetworkError("connection reset")
    now[0] += 60
    assert source.next_candles() == []  # not fatal
    calls = exchange.calls
    assert source.next_candles() == [] and exchange.calls == calls  # backing off

    exchange.fail = None
    now[0] += 30
    assert [c.close for c in source.next_candles()] == [Decimal(104)]


@pytest.mark.parametrize(
    ("written", "unified"),
    [
        ("BTCUSDT", "BTC/USDT"),
        ("BINANCE:ETHUSDT", "ETH/USDT"),
        ("BTC/USDT", "BTC/USDT"),
        ("BTC/USDT:USDT", "BTC/USDT"),
        ("BTCUSDT.P", "BTC/USDT"),
        ("SOLUSDT", "SOL/USDT"),
        ("FOO", None),
        ("FOOUSDT", None),
    ],
)
def test_tradingview_symbols_read_as_unified_symbols(written: str, unified: str | None):
    assert symbol_unified(written) == unified


def test_heartbeat_status_prints_each_symbols_last_candle_and_age(redis_url: str, capsys):
    client = redis.Redis.from_url(redis_url)
    publisher = HeartbeatPublisher(client, SimSource(lambda: ["BTC/USDT"], start=START), seconds_per_candle=0)
    publisher.step()

    call_command("heartbeat_status")

    out = capsys.readouterr().out
    assert "BTC/USDT" in out and "2026-03-02 12:00" in out and "ok" in out
    client.close()


def test_run_heartbeat_replays_a_csv_as_fast_as_possible_and_stops(redis_url: str, tmp_path: Path, monkeypatch):
    monkeypatch.setattr("signal.signal", lambda *args: None)
    path = tmp_path / "feed.csv"
    path.write_text(
        "time,symbol,open,high,low,close,volume\n"
        + "".join(f"2026-03-02T12:0{i}:00Z,BTC/USDT,40000,40100,39900,4000{i},1\n" for i in range(3))
    )

    call_command("run_heartbeat", source="replay", csv=str(path), seconds_per_candle=0, only_symbols=True)

    client = redis.Redis.from_url(redis_url)
    assert client.xlen(HEARTBEAT) == 3
    assert heartbeat_last(client)["BTC/USDT"].close == Decimal(40002)
    client.close()


def test_ccxt_heartbeat_polls_every_exchange_in_use_each_with_its_own_client():
    import time as clock

    minute = 60_000
    now_ms = int(clock.time() * 1000)
    last_closed = (now_ms // minute - 1) * minute
    rows = [[last_closed, 100, 101, 99, 100, 1]]
    clients: dict[str, FakeExchange] = {}

    def client_for(exchange_id: str) -> OhlcvClient:
        if exchange_id == "nosuchexchange":
            from trading.errors import ConfigurationError

            raise ConfigurationError("ccxt has no exchange 'nosuchexchange'")
        clients[exchange_id] = FakeExchange(rows)
        return OhlcvClient(exchange_id, exchange=clients[exchange_id])

    wanted = {"binance": ["BTC/USDT"], "kraken": ["ETH/USDT"], "nosuchexchange": ["SOL/USDT"]}
    source = MultiCcxtSource(lambda: wanted, client_for=client_for)

    candles = source.next_candles()

    assert sorted((c.exchange, c.symbol) for c in candles) == [("binance", "BTC/USDT"), ("kraken", "ETH/USDT")]
    assert set(clients) == {"binance", "kraken"}


@pytest.mark.django_db
def test_symbols_in_use_are_grouped_by_the_exchange_whose_prices_they_need(alice):
    from apps.brokers.models import Broker
    from apps.webhooks.models import WebhookState

    paper = Broker.objects.create(user=alice, name="p", exchange="paper")
    kraken = Broker.objects.create(user=alice, name="k", exchange="kraken")
    WebhookState.objects.create(user=alice, broker=paper, symbol="BTC/USDT", quantity=1)
    WebhookState.objects.create(user=alice, broker=kraken, symbol="ETH/USDT", quantity=1)

    grouped = symbols_by_exchange(["SOL/USDT"], paper_prices_from="binance")

    assert grouped == {"binance": ["SOL/USDT", "BTC/USDT"], "kraken": ["ETH/USDT"]}
