"""Every alert answered 200 ends as exactly one Webhook row within seconds, whatever fails:
errors no retry can cure are final at once, nothing waits unrecorded behind a failing alert,
and a dead letter says whether anything reached the exchange (DESIGN §5.1)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import InvalidOperation

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.streams import WEBHOOK_DEAD, WEBHOOK_RAW, RawAlert
from apps.webhooks.engine import execution
from apps.webhooks.engine.consumer import TradingEngine
from apps.webhooks.engine.groups import engine_pending
from apps.webhooks.models import Order, Webhook
from tests.engine.conftest import BUY_BODY
from trading.errors import TemporaryError

pytestmark = pytest.mark.integration

SELL_ALL = {"Symbol": "BTCUSDT", "Action": "SellMarket", "PourCent": "100", "Prix": "40000"}


def _run_until_finished(engine: TradingEngine, entries: list[str], seconds: float = 8.0) -> None:
    """Step the engine (retries included) until every entry's alert is processed or an error."""

    def finished() -> bool:
        rows = Webhook.objects.filter(stream_id__in=entries, status__in=["processed", "error"])
        return rows.count() == len(entries) and engine_pending(engine.redis, WEBHOOK_RAW) == 0

    deadline = time.monotonic() + seconds
    while not finished() and time.monotonic() < deadline:
        engine.step(block_ms=20)


def test_a_forty_digit_prix_is_an_error_at_once_and_the_alerts_behind_it_are_processed(alerts):
    bad = alerts.add({"Symbol": "BTCUSDT", "Action": "BuyLimit", "Prix": "1234567890" * 4})
    buy = alerts.add(BUY_BODY)
    sell = alerts.add(SELL_ALL)

    alerts.engine.step(block_ms=20)  # one pass: no retry needed

    rows = {row.stream_id: row for row in Webhook.objects.all()}
    assert rows[bad].status == "error" and "Prix" in rows[bad].error_message
    assert "too large" in rows[bad].error_message
    assert rows[buy].status == "processed", rows[buy].error_message
    assert rows[sell].status == "processed", rows[sell].error_message
    assert engine_pending(alerts.redis, WEBHOOK_RAW) == 0


def test_bad_numbers_met_while_executing_are_an_error_at_once_that_says_nothing_was_sent(alerts, monkeypatch):
    def broken_rounding(*args, **kwargs):
        raise InvalidOperation([InvalidOperation])

    monkeypatch.setattr(execution, "price_round", broken_rounding)
    bad = alerts.add({**BUY_BODY, "Action": "BuyLimit", "Prix": "39000"})
    after = alerts.add({"Symbol": "BTCUSDT", "Action": "PING"})

    alerts.engine.step(block_ms=20)

    webhook = Webhook.objects.get(stream_id=bad)
    assert webhook.status == "error"
    assert "numbers cannot be computed" in webhook.error_message
    assert "nothing was sent to the exchange" in webhook.error_message
    assert Webhook.objects.get(stream_id=after).status == "processed"
    assert engine_pending(alerts.redis, WEBHOOK_RAW) == 0


def test_an_alert_held_behind_a_failing_one_gets_its_row_at_once(alerts, monkeypatch):
    def busy(self, webhook, alert, broker, market, *, fresh):
        raise TemporaryError("the exchange is busy")

    monkeypatch.setattr(execution.AlertExecutor, "_buy", busy)
    first = alerts.add(BUY_BODY)
    held = alerts.add({**BUY_BODY, "PourCent": "20"})
    held_bad = alerts.add({"Symbol": "BTCUSDT", "Action": "Moon"})

    alerts.engine.step(block_ms=20)

    assert Webhook.objects.get(stream_id=first).status == "processing"
    waiting = Webhook.objects.get(stream_id=held)  # recorded, not run out of order
    assert waiting.status == "processing" and not waiting.orders.exists()
    assert Webhook.objects.get(stream_id=held_bad).status == "error"


def test_an_alert_held_behind_one_that_keeps_failing_is_run_not_dead_lettered(alerts, redis_client, monkeypatch):
    real_buy = execution.AlertExecutor._buy

    def never_for_the_first(self, webhook, alert, broker, market, *, fresh):
        if alert.pour_cent == 50:
            raise TemporaryError("the exchange is busy")
        return real_buy(self, webhook, alert, broker, market, fresh=fresh)

    monkeypatch.setattr(execution.AlertExecutor, "_buy", never_for_the_first)
    engine = alerts.engine
    engine.max_deliveries = 3
    first = alerts.add(BUY_BODY)
    behind = [alerts.add({**BUY_BODY, "PourCent": str(10 + n)}) for n in range(3)]
    _run_until_finished(engine, [first, *behind])

    head = Webhook.objects.get(stream_id=first)
    assert head.status == "error" and "gave up after 3 attempts" in head.error_message
    assert "the exchange is busy" in head.error_message
    assert "nothing was sent to the exchange" in head.error_message
    for entry in behind:
        assert Webhook.objects.get(stream_id=entry).status == "processed"
    assert redis_client.xlen(WEBHOOK_DEAD) == 1  # the failing one only


def test_a_dead_letter_names_the_orders_that_reached_the_exchange(alerts, redis_client, monkeypatch):
    def dies_after_sending(order, state):
        raise RuntimeError("engine lost its database after the gateway placed the order")

    monkeypatch.setattr(execution, "order_state_apply", dies_after_sending)
    engine = alerts.engine
    engine.max_deliveries = 2
    entry = alerts.add(BUY_BODY)
    _run_until_finished(engine, [entry])

    webhook = Webhook.objects.get(stream_id=entry)
    order = Order.objects.get(webhook=webhook)
    assert webhook.status == "error" and "gave up" in webhook.error_message
    assert "order(s) sent" in webhook.error_message and order.client_order_id in webhook.error_message
    assert "nothing was sent" not in webhook.error_message


def test_an_entry_that_cannot_be_recorded_gets_an_error_row_instead_of_retries(alerts, monkeypatch):
    from apps.webhooks.engine import entries

    def unrecordable(**kwargs):
        raise ValueError("a value the records cannot hold")

    monkeypatch.setattr(entries, "alert_record", unrecordable)
    entry = alerts.add(BUY_BODY)

    alerts.engine.step(block_ms=20)

    webhook = Webhook.objects.get(stream_id=entry)
    assert webhook.status == "error" and "cannot be read" in webhook.error_message
    assert webhook.user_id == alerts.user.pk and json.loads(webhook.raw_payload["body"])["Symbol"] == "BTCUSDT"
    assert engine_pending(alerts.redis, WEBHOOK_RAW) == 0


def _add_received(alerts, body: dict, *, seconds_ago: float) -> str:
    raw = RawAlert(
        body=json.dumps({"UserExchangeID": alerts.broker.pk, **body}),
        received_at=(datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat(),
        trace_id=uuid.uuid4().hex,
        user_id=alerts.user.pk,
    )
    return str(alerts.redis.xadd(WEBHOOK_RAW, raw.to_fields()).decode())


def test_dedup_window_runs_from_receipt_not_from_when_the_engine_runs_the_alert(alerts):
    ping = {"Symbol": "BTCUSDT", "Action": "PING", "ID": "bar-42"}
    # A backlog: the first alert arrived 100 s ago, its repeat 30 s later, another 70 s later.
    first = _add_received(alerts, ping, seconds_ago=100)
    repeat = _add_received(alerts, ping, seconds_ago=70)
    later = _add_received(alerts, ping, seconds_ago=30)
    alerts.drain()

    assert Webhook.objects.get(stream_id=first).status == "processed"
    assert "duplicate" in Webhook.objects.get(stream_id=repeat).error_message
    assert Webhook.objects.get(stream_id=later).status == "processed"


def test_a_repeat_run_late_after_the_claim_expired_is_still_a_duplicate_within_the_window(alerts):
    ping = {"Symbol": "BTCUSDT", "Action": "PING", "ID": "bar-43"}
    first = _add_received(alerts, ping, seconds_ago=100)
    alerts.drain()
    for key in alerts.redis.scan_iter("alert_dedup:*"):  # its claim expired while the engine was away
        alerts.redis.delete(key)

    repeat = _add_received(alerts, ping, seconds_ago=70)  # received 30 s after it, run 70 s late
    alerts.drain()

    assert Webhook.objects.get(stream_id=first).status == "processed"
    assert "duplicate" in Webhook.objects.get(stream_id=repeat).error_message


bodies = st.one_of(
    st.text(max_size=120),
    st.dictionaries(
        st.sampled_from(["Symbol", "Action", "Prix", "PrixSL", "PrixTP", "PourCent", "Close", "BarTime", "Interval"]),
        st.one_of(
            st.text(max_size=30),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.from_regex(r"-?[0-9]{1,45}(\.[0-9]{1,45})?", fullmatch=True),
            st.sampled_from(["BuyLimit", "BuyMarket", "SellMarket", "MAJ", "PING", "BTCUSDT", "NaN", "9999.9999"]),
        ),
        max_size=9,
    ).map(json.dumps),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_body_is_recorded_as_exactly_one_row(alerts, body):
    from apps.webhooks.engine.recording import alert_record

    raw = RawAlert(body=body, received_at=datetime.now(UTC).isoformat(), trace_id="t", user_id=alerts.user.pk)
    stream_id = f"{int(time.time() * 1000)}-{uuid.uuid4().int % 10**6}"

    recorded = alert_record(stream_id=stream_id, raw=raw, dedup=alerts.engine.dedup, brokers=alerts.engine.brokers)

    row = Webhook.objects.get(stream_id=stream_id)
    assert row.status in ("processing", "error") and (row.status == "processing") == (recorded.alert is not None)
    assert row.status == "processing" or row.error_message


def test_nul_characters_in_an_alert_are_recorded_not_refused_by_the_database() -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: a body or value holding one is stored
    with U+FFFD in its place, at any depth, so the alert still gets its row."""
    from apps.webhooks.engine.recording import storable

    assert storable({"a\x00": ["x\x00y", {"n": 1, "s": "\x00"}]}) == {"a\ufffd": ["x\ufffdy", {"n": 1, "s": "\ufffd"}]}
