"""Watched alert streams: a candle judges MISSes from them, at a cost that never grows with history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.brokers.models import Broker
from apps.webhooks.engine.misses import misses_record, streams_fill
from apps.webhooks.models import AlertStream, AlertStreamBar, Webhook

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def broker(alice):
    return Broker.objects.create(user=alice, name="Paper", exchange="paper", type_de_trading="Webhooks")


def alert(user, broker, bar: datetime, *, symbol: str = "BTCUSDT", interval: str = "5", **fields) -> Webhook:
    return Webhook.objects.create(
        user=user,
        broker=broker,
        symbol=symbol,
        interval=interval,
        action=fields.pop("action", "PING"),
        bar_time=bar,
        received_at=fields.pop("received_at", bar + 5 * MINUTE + timedelta(seconds=2)),
        status=fields.pop("status", "processed"),
        **fields,
    )


def candles(until: datetime, *, start: datetime = T0, every: timedelta = MINUTE) -> list[Webhook]:
    """A candle every `every` from `start` to `until`: the clock is each candle's close."""
    made = []
    clock = start + MINUTE
    while clock <= until:
        made += misses_record(symbol="BTC/USDT", clock=clock)
        clock += every
    return made


def test_spellings_of_one_symbol_and_interval_are_one_stream_and_a_failed_alert_counts(alice, broker):
    alert(alice, broker, T0, symbol="BTCUSDT", interval="5")
    alert(alice, broker, T0 + 5 * MINUTE, symbol="BTC/USDT", interval="5m", status="error")
    alert(alice, broker, T0 + 15 * MINUTE, symbol="BINANCE:BTCUSDT", interval="5")

    missed = candles(T0 + 22 * MINUTE)

    assert AlertStream.objects.count() == 1
    assert [m.bar_time for m in missed] == [T0 + 10 * MINUTE]
    assert (missed[0].symbol, missed[0].interval) == ("BTC/USDT", "5m")  # as the alert before it spelled it
    assert AlertStreamBar.objects.count() == 0  # judged bars are removed


def test_a_stream_asleep_after_a_day_of_silence_wakes_with_its_next_alert(alice, broker):
    alert(alice, broker, T0, interval="60")
    later = T0 + timedelta(days=2)

    assert len(candles(T0 + timedelta(days=1, hours=3), every=10 * MINUTE)) == 24
    assert AlertStream.objects.get().due_at is None  # asleep: no candle reads it
    alert(alice, broker, later, interval="60", received_at=later + timedelta(hours=1, seconds=2))
    woken = candles(later + timedelta(hours=2, minutes=1), start=later)

    assert [m.bar_time for m in woken] == [later + timedelta(hours=1)]


def test_a_candle_reads_the_same_number_of_rows_whatever_the_history(alice, broker):
    old = [
        Webhook(user=alice, broker=broker, symbol="BTCUSDT", interval="5", action="PING", received_at=T0 - i * MINUTE)
        for i in range(1, 3000)
    ]
    Webhook.objects.bulk_create(old)  # history: no stream sees it
    alert(alice, broker, T0)
    candles(T0 + 10 * MINUTE)

    with CaptureQueriesContext(connection) as queries:
        misses_record(symbol="BTC/USDT", clock=T0 + 12 * MINUTE)

    assert not any('"webhooks_webhook"' in query["sql"] and "SELECT" in query["sql"] for query in queries)


def test_a_candle_twice_or_an_older_candle_records_nothing_more(alice, broker):
    alert(alice, broker, T0)
    first = misses_record(symbol="BTC/USDT", clock=T0 + 15 * MINUTE)

    assert [m.bar_time for m in first] == [T0 + 5 * MINUTE]
    assert misses_record(symbol="BTC/USDT", clock=T0 + 15 * MINUTE) == []
    assert misses_record(symbol="BTC/USDT", clock=T0 + 11 * MINUTE) == []
    assert misses_record(symbol="ETH/USDT", clock=T0 + 30 * MINUTE) == []


def test_the_engine_owns_only_its_partitions_streams(alice, bob, broker):
    bobs = Broker.objects.create(user=bob, name="Paper", exchange="paper", type_de_trading="Webhooks")
    alert(alice, broker, T0)
    alert(bob, bobs, T0)

    mine = misses_record(symbol="BTC/USDT", clock=T0 + 11 * MINUTE, owned=lambda user_id, symbol: user_id == bob.pk)
    rest = misses_record(symbol="BTC/USDT", clock=T0 + 11 * MINUTE)

    assert [m.user_id for m in mine] == [bob.pk] and [m.user_id for m in rest] == [alice.pk]


def test_streams_filled_from_existing_alerts_judge_what_the_history_did_not(alice, broker):
    rows = [
        Webhook(
            user=alice,
            broker=broker,
            symbol="BTCUSDT",
            interval="5",
            action="PING",
            bar_time=T0 + i * 5 * MINUTE,
            received_at=T0 + (i + 1) * 5 * MINUTE,
        )
        for i in (0, 1, 3, 6)
    ]
    rows.append(
        Webhook(
            user=alice,
            broker=broker,
            symbol="BTCUSDT",
            interval="5",
            action="MISS",
            status="miss",
            bar_time=T0 + 10 * MINUTE,
            received_at=T0 + 16 * MINUTE,
        )
    )
    Webhook.objects.bulk_create(rows)  # as before the migration: no streams yet

    assert streams_fill(webhooks=Webhook, streams=AlertStream, stream_bars=AlertStreamBar, now=T0 + 36 * MINUTE) == 1
    missed = misses_record(symbol="BTC/USDT", clock=T0 + 36 * MINUTE)

    assert [m.bar_time for m in missed] == [T0 + 20 * MINUTE, T0 + 25 * MINUTE]  # 10 was recorded before
