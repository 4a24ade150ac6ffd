"""GET /health/ and GET /metrics on the web process, and the receiver's /health: the same figures."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from apps.core import views
from apps.core.liveness import Liveness, LivenessPublisher
from apps.core.metrics import ALERTS_FAILED, ALERTS_PROCESSED, LATENCY_KEY, MetricsBuffer
from apps.core.streams import ENGINE_GROUP, WEBHOOK_DEAD, WEBHOOK_RAW
from apps.webhooks.receiver import ReceiverConfig, build_app
from tests.receiver.helpers import ALICE_ID, ALICE_TOKEN, static_tokens

from .conftest import ALL, healthy_stack

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def views_client_fresh() -> Iterator[None]:
    """The views keep one Redis client per process: each test's is made from its own settings.REDIS_URL."""
    views._redis.cache_clear()
    yield
    views._redis.cache_clear()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_health_answers_200_with_the_stack_status(client, redis_client):
    healthy_stack(redis_client)

    answer = client.get("/health/")
    body = answer.json()

    assert answer.status_code == 200
    assert body["status"] == "ok" and body["database"] is True and body["redis_reachable"] is True
    assert body["system"]["healthy"] is True
    assert sorted(p["name"] for p in body["system"]["processes"]) == sorted(ALL)
    assert body["system"]["streams"][WEBHOOK_RAW]["groups"][0]["name"] == ENGINE_GROUP
    assert answer["Cache-Control"].startswith("max-age=0")


def test_health_strict_answers_503_when_the_stack_is_unhealthy(client, redis_client):
    healthy_stack(redis_client)
    redis_client.delete("proc:engine:box:102")

    relaxed = client.get("/health/")
    strict = client.get("/health/?strict=1")

    assert relaxed.status_code == 200 and relaxed.json()["system"]["healthy"] is False
    assert strict.status_code == 503
    assert "engine is not running" in strict.json()["system"]["problems"][0]


def test_health_answers_503_when_redis_is_down(client, settings):
    from apps.core.ports import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    answer = client.get("/health/")

    assert answer.status_code == 503
    assert answer.json() == {"status": "degraded", "database": True, "redis_reachable": False, "system": None}


def test_health_refuses_other_methods(client, redis_url):
    assert client.post("/health/").status_code == 405


def test_metrics_expose_alerts_latency_streams_and_processes(client, redis_client):
    healthy_stack(redis_client)
    for body in ("a", "b", "c"):
        redis_client.xadd(WEBHOOK_RAW, {"body": body})
    redis_client.xreadgroup(ENGINE_GROUP, "engine-box", {WEBHOOK_RAW: ">"}, count=1)
    redis_client.xadd(WEBHOOK_DEAD, {"stream": WEBHOOK_RAW})
    redis_client.hset("metrics:counters", mapping={"alerts_received": 7, "alerts_rejected:unauthorized": 2})
    engine_metrics = MetricsBuffer()  # what an engine gathered and its beat wrote
    engine_metrics.incr(ALERTS_PROCESSED, 4)
    engine_metrics.incr(ALERTS_FAILED)
    for seconds in (0.03, 0.2, 0.2, 4.0):
        engine_metrics.observe_latency(seconds)
    LivenessPublisher(Liveness("engine", host="box", pid=102), redis_client, metrics=engine_metrics).beat()

    answer = client.get("/metrics")
    values = _samples(answer.content.decode())

    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain; version=")
    assert values[("aristobot_alerts_received_total", ())] == 7
    assert values[("aristobot_alerts_rejected_total", (("reason", "unauthorized"),))] == 2
    assert values[("aristobot_alerts_rejected_total", (("reason", "rate_limited"),))] == 0
    assert values[("aristobot_alerts_processed_total", ())] == 4
    assert values[("aristobot_alerts_failed_total", ())] == 1
    assert values[("aristobot_order_latency_seconds_count", ())] == 4
    assert values[("aristobot_order_latency_seconds_sum", ())] == pytest.approx(4.43)
    assert values[("aristobot_order_latency_seconds_bucket", (("le", "0.05"),))] == 1
    assert values[("aristobot_order_latency_seconds_bucket", (("le", "0.25"),))] == 3
    assert values[("aristobot_order_latency_seconds_bucket", (("le", "+Inf"),))] == 4
    assert values[("aristobot_stream_length", (("stream", WEBHOOK_RAW),))] == 3
    assert values[("aristobot_stream_lag", (("group", ENGINE_GROUP), ("stream", WEBHOOK_RAW)))] == 2
    assert values[("aristobot_stream_pending", (("group", ENGINE_GROUP), ("stream", WEBHOOK_RAW)))] == 1
    assert values[("aristobot_dead_letters", ())] == 1
    assert values[("aristobot_process_up", (("process", "engine"),))] == 1
    assert values[("aristobot_heartbeat_age_seconds", ())] == pytest.approx(5, abs=2)
    assert values[("aristobot_healthy", ())] == 0  # the dead letter is recent


def test_metrics_count_what_every_engine_wrote(client, redis_client):
    for pid in (1, 2):
        gathered = MetricsBuffer()
        gathered.incr(ALERTS_PROCESSED, 10)
        gathered.observe_latency(1.5)
        LivenessPublisher(Liveness("engine", host="box", pid=pid), redis_client, metrics=gathered).beat()

    values = _samples(client.get("/metrics").content.decode())

    assert values[("aristobot_alerts_processed_total", ())] == 20
    assert values[("aristobot_order_latency_seconds_count", ())] == 2
    assert values[("aristobot_process_up", (("process", "engine"),))] == 2
    assert float(redis_client.hget(LATENCY_KEY, "le:2.5")) == 2


async def test_receiver_health_serves_the_same_status_and_counts_received_alerts(redis_url):
    import redis as sync_redis

    sync = sync_redis.Redis.from_url(redis_url)
    healthy_stack(sync)
    client_redis = aioredis.Redis.from_url(redis_url)
    app = build_app(redis=client_redis, config=ReceiverConfig(), token_loader=static_tokens({ALICE_TOKEN: ALICE_ID}))
    try:
        async with TestClient(TestServer(app)) as client:
            for _ in range(3):
                await client.post("/webhook", data=orjson.dumps({"Token": ALICE_TOKEN, "Action": "PING"}))
            await client.post("/webhook", data=b'{"Token": "wrong"}')
            health = await client.get("/health")
            state = await health.json()
            sync.delete("proc:engine:box:102")
            strict = await client.get("/health?strict=1")
            strict_state = await strict.json()
        LivenessPublisher(Liveness("receiver", host="box", pid=999), sync).beat()  # writes the gathered counts
    finally:
        await client_redis.aclose()

    assert health.status == 200
    assert state["received"] == 3
    assert state["system"]["healthy"] is True
    assert sorted(p["name"] for p in state["system"]["processes"]) == sorted(ALL)
    assert state["system"]["streams"][WEBHOOK_RAW]["length"] == 3
    assert int(sync.hget("metrics:counters", "alerts_received")) == 3  # written by the liveness beat
    assert int(sync.hget("metrics:counters", "alerts_rejected:unauthorized")) == 1
    assert strict.status == 503 and strict_state["system"]["healthy"] is False
    sync.close()


def test_a_beat_that_cannot_reach_redis_keeps_the_metrics_for_the_next_one(redis_client):
    from apps.core.ports import free_port

    down = __import__("redis").Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    gathered = MetricsBuffer()
    gathered.incr(ALERTS_PROCESSED, 3)
    publisher = LivenessPublisher(Liveness("engine"), down, metrics=gathered)

    assert publisher.beat() is False
    publisher.client = redis_client
    time.sleep(1.05)  # a failed beat is retried after a second
    assert publisher.beat() is True
    assert int(redis_client.hget("metrics:counters", ALERTS_PROCESSED)) == 3
