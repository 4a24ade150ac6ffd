"""Processes publish their liveness from their own loop; the engine counts outcomes and order
latency without a Redis round trip of its own, and runs each alert under its trace id."""

from __future__ import annotations

import json
import time

import pytest

from apps.core.liveness import PROCS_INDEX, Liveness, LivenessPublisher
from apps.core.logcontext import trace_id_current
from apps.core.metrics import ALERTS_FAILED, ALERTS_PROCESSED, PROCESS_METRICS
from apps.core.workers import StopFlag, worker_loop
from apps.webhooks.engine.execution import AlertExecutor
from tests.engine.conftest import BUY_BODY

pytestmark = pytest.mark.integration


def test_worker_loop_beats_marks_work_and_withdraws_on_a_clean_stop(redis_client):
    stop = StopFlag()
    publisher = LivenessPublisher(Liveness("engine"), redis_client, interval=0.0)
    key = publisher.liveness.key
    seen: list[tuple[dict[bytes, bytes], int]] = []
    calls = 0

    def step() -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:  # the loop beat after the first step, which found work
            seen.append((redis_client.hgetall(key), redis_client.ttl(key)))
            stop.set()
        return calls == 1

    before = time.time()
    worker_loop(step, name="engine", stop=stop, liveness=publisher)

    ((record, ttl),) = seen
    assert record[b"name"] == b"engine" and int(record[b"pid"]) == publisher.liveness.pid
    assert float(record[b"last_activity"]) >= before
    assert float(record[b"started_at"]) <= float(record[b"beat_at"])
    assert 0 < ttl <= 20
    assert not redis_client.exists(key)  # a clean stop removes the record
    assert not redis_client.hexists(PROCS_INDEX, key)


def test_a_beat_sets_a_ttl_so_a_dead_process_disappears(redis_client):
    publisher = LivenessPublisher(Liveness("gateway"), redis_client, ttl=20)

    publisher.beat()

    assert 15 < redis_client.ttl(publisher.liveness.key) <= 20
    assert json.loads(redis_client.hget(PROCS_INDEX, publisher.liveness.key))["name"] == "gateway"
    assert publisher.beat() is False  # not due again before the interval


@pytest.mark.django_db(transaction=True)
def test_engine_counts_a_processed_alert_and_its_order_latency(alerts):
    webhook = alerts.send(BUY_BODY)

    batch = PROCESS_METRICS.drain()
    assert webhook.status == "processed", webhook.error_message
    assert batch.counters[ALERTS_PROCESSED] == 1 and batch.counters[ALERTS_FAILED] == 0
    assert batch.latency_count == 1  # the entry order; its protection is not an alert's order
    assert 0 < batch.latency_sum < 5


@pytest.mark.django_db(transaction=True)
def test_engine_counts_alerts_recorded_as_errors(alerts):
    alerts.send({"Symbol": "NOPEUSDT", "Action": "BuyMarket", "Prix": "1"})  # unknown symbol
    alerts.send("not json")

    batch = PROCESS_METRICS.drain()
    assert batch.counters[ALERTS_FAILED] == 2 and batch.counters[ALERTS_PROCESSED] == 0


@pytest.mark.django_db(transaction=True)
def test_engine_executes_each_alert_under_its_trace_id(alerts, monkeypatch):
    seen: list[tuple[str, str]] = []
    original = AlertExecutor._execute

    def spy(self, webhook, alert, *, fresh):
        seen.append((webhook.trace_id, trace_id_current()))
        return original(self, webhook, alert, fresh=fresh)

    monkeypatch.setattr(AlertExecutor, "_execute", spy)
    first = alerts.send({**BUY_BODY, "PourCent": "10"})
    second = alerts.send({"Symbol": "BTCUSDT", "Action": "PING"})

    assert seen == [(first.trace_id, first.trace_id), (second.trace_id, second.trace_id)]
    assert len(first.trace_id) == 32 and trace_id_current() == ""
