"""Heartbeat candles drive the engine: paper fills, stops, marking to market and MISS detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.core.streams import HEARTBEAT, Candle
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import BUY_BODY, approx

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def candle_add(redis_client, at: datetime, *, close: str, low: str | None = None, high: str | None = None) -> None:
    price = Decimal(close)
    candle = Candle(
        "replay",
        "BTC/USDT",
        at.isoformat(),
        price,
        Decimal(high) if high else price,
        Decimal(low) if low else price,
        price,
        Decimal(1),
    )
    redis_client.xadd(HEARTBEAT, candle.to_fields())


def test_a_five_minute_stream_with_two_withheld_bars_records_exactly_two_misses(alerts, redis_client):
    withheld = {2, 4}
    for minute in range(37):  # candles 12:00 … 12:36: the clock reaches 12:37
        at = T0 + timedelta(minutes=minute)
        bar = minute // 5 - 1  # the bar that closed at this candle's open, alerted just after
        if minute % 5 == 0 and bar >= 0 and bar not in withheld:
            bar_time = T0 + timedelta(minutes=5 * bar)
            alerts.add({"Symbol": "BTCUSDT", "Action": "PING", "Interval": "5", "BarTime": bar_time.isoformat()})
        candle_add(redis_client, at, close="40000")
        alerts.drain()

    misses = list(Webhook.objects.filter(action="MISS").order_by("bar_time"))
    assert [m.bar_time for m in misses] == [T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)]
    assert all(m.status == "miss" and m.interval == "5" and m.symbol == "BTCUSDT" for m in misses)
    assert all(m.user == alerts.user and m.broker == alerts.broker for m in misses)
    assert "12:10" in misses[0].error_message

    candle_add(redis_client, T0 + timedelta(minutes=36), close="40000")  # the same candle again
    alerts.drain()
    assert Webhook.objects.filter(action="MISS").count() == 2


def test_paper_long_stopped_by_a_candle_low_at_37990_closing_at_38100(alerts, redis_client):
    alerts.send(BUY_BODY)
    position = WebhookState.objects.get(status="open")
    entry = Order.objects.get(kind="entry")

    candle_add(redis_client, T0, close="38100", low="37990", high="40100")
    alerts.drain()

    position.refresh_from_db()
    stop = Order.objects.get(kind="stop_loss")
    assert position.status == "closed" and stop.status == "filled"
    assert stop.average_price == Decimal(38000)
    assert entry.average_price == Decimal(40000)
    expected = (Decimal(38000) - Decimal(40000)) * stop.filled - entry.fee - stop.fee
    assert approx(position.realized_pnl, str(expected), "0.000001")
    assert Order.objects.get(kind="take_profit").status == "canceled"


def test_open_positions_follow_the_feed(alerts, redis_client):
    alerts.send({**BUY_BODY, "PrixSL": "30000", "PrixTP": "50000"})
    position = WebhookState.objects.get(status="open")

    for minute, close in enumerate(["41000", "39500"]):
        candle_add(redis_client, T0 + timedelta(minutes=minute), close=close)
        alerts.drain()
        position.refresh_from_db()
        expected = (Decimal(close) - position.entry_price) * position.quantity - position.entry_fees
        assert position.current_price == Decimal(close)
        assert approx(position.unrealized_pnl, str(expected), "0.000001")
    assert position.status == "open" and position.unrealized_pnl < 0


def test_the_engine_warns_once_when_prices_of_an_open_position_are_stale(alerts, redis_client, caplog):
    from apps.core.heartbeat.publisher import candle_publish
    from apps.webhooks.engine.market import StalePrices

    alerts.send({**BUY_BODY, "PrixSL": "30000", "PrixTP": "50000"})
    watch = StalePrices(redis_client, max_age_seconds=180, check_every=0, repeat_every=600)
    now = 1_000_000.0
    candle_publish(redis_client, Candle("sim", "BTC/USDT", T0.isoformat(), *[Decimal(40000)] * 4), published_at=now)

    assert watch.check(now=now + 60) == []
    assert watch.check(now=now + 200) == ["BTC/USDT"]
    assert watch.check(now=now + 260) == ["BTC/USDT"]
    assert sum("stale" in record.getMessage() for record in caplog.records) == 1


def test_a_price_acts_on_its_own_market_only(alerts, redis_client, alice):
    from apps.brokers.models import Broker
    from apps.webhooks.models import WebhookState

    alerts.send(BUY_BODY)  # a paper position on BTC/USDT
    live = Broker.objects.create(user=alice, name="Kraken", exchange="kraken", type_de_trading="Webhooks")
    kraken_position = WebhookState.objects.create(
        user=alice, broker=live, symbol="BTC/USDT", quantity=1, entry_price=40000, current_price=40000
    )

    candle = Candle("kraken", "BTC/USDT", T0.isoformat(), *[Decimal(41000)] * 4, Decimal(1))
    redis_client.xadd(HEARTBEAT, candle.to_fields())
    alerts.drain()
    paper_position = WebhookState.objects.exclude(pk=kraken_position.pk).get()
    kraken_position.refresh_from_db()
    assert kraken_position.current_price == Decimal(41000)
    assert paper_position.current_price != Decimal(41000)  # kraken's price is not the paper feed

    candle_add(redis_client, T0 + timedelta(minutes=1), close="42000")  # the replayed feed: paper prices
    alerts.drain()
    paper_position.refresh_from_db()
    kraken_position.refresh_from_db()
    assert paper_position.current_price == Decimal(42000)
    assert kraken_position.current_price == Decimal(41000)  # a simulated price never marks a live position
