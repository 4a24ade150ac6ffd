"""The stack's figures in Prometheus' text format, built from one status read at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from apps.core.metrics import (
    ALERTS_FAILED,
    ALERTS_PROCESSED,
    ALERTS_RECEIVED,
    ALERTS_REJECTED,
    LATENCY_BUCKETS,
    latency_field,
)
from apps.core.status import PROCESS_NAMES, SystemStatus
from apps.webhooks.receiver.stats import Rejection


class StatusCollector(Collector):
    """Turns one SystemStatus into metric families."""

    def __init__(self, status: SystemStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status
        counters = status.counters
        yield CounterMetricFamily(
            "aristobot_alerts_received",
            "Alerts stored and answered 200 by the receiver.",
            counters.get(ALERTS_RECEIVED, 0),
        )
        rejected = CounterMetricFamily(
            "aristobot_alerts_rejected", "Alerts the receiver answered with an error, by reason.", labels=["reason"]
        )
        for reason in Rejection:
            rejected.add_metric([reason.value], counters.get(ALERTS_REJECTED + reason.value, 0))
        yield rejected
        yield CounterMetricFamily(
            "aristobot_alerts_processed", "Alerts the engine recorded as processed.", counters.get(ALERTS_PROCESSED, 0)
        )
        yield CounterMetricFamily(
            "aristobot_alerts_failed", "Alerts the engine recorded as errors.", counters.get(ALERTS_FAILED, 0)
        )
        yield self._latency()
        yield from self._streams()
        yield GaugeMetricFamily(
            "aristobot_dead_letters", "Entries in the dead-letter stream webhook_raw_dead.", status.dead_letters
        )
        alive = GaugeMetricFamily("aristobot_process_up", "Processes alive, by name.", labels=["process"])
        names = sorted({*PROCESS_NAMES, *(process.name for process in status.processes)})
        for name in names:
            alive.add_metric([name], sum(1 for p in status.processes if p.name == name and p.alive))
        yield alive
        if status.heartbeat.age_seconds is not None:
            yield GaugeMetricFamily(
                "aristobot_heartbeat_age_seconds",
                "Seconds since the heartbeat published its freshest candle.",
                status.heartbeat.age_seconds,
            )
        yield GaugeMetricFamily(
            "aristobot_healthy", "1 when manage.py status finds nothing wrong.", 1 if status.healthy else 0
        )

    def _latency(self) -> Metric:
        latency = self.status.order_latency
        buckets, running = [], 0.0
        for bound in (*LATENCY_BUCKETS, float("inf")):
            running += latency.get(latency_field(bound), 0.0)
            buckets.append(("+Inf" if bound == float("inf") else f"{bound:g}", running))
        return HistogramMetricFamily(
            "aristobot_order_latency_seconds",
            "Seconds from the receiver accepting an alert to the exchange's answer to its order.",
            buckets=buckets,
            sum_value=latency.get("sum", 0.0),
        )

    def _streams(self) -> Iterator[Metric]:
        length = GaugeMetricFamily("aristobot_stream_length", "Entries in a stream.", labels=["stream"])
        lag = GaugeMetricFamily(
            "aristobot_stream_lag", "Entries not yet delivered to a consumer group.", labels=["stream", "group"]
        )
        pending = GaugeMetricFamily(
            "aristobot_stream_pending", "Entries delivered, not yet acknowledged.", labels=["stream", "group"]
        )
        waiting = GaugeMetricFamily(
            "aristobot_stream_oldest_waiting_seconds",
            "Age of the oldest entry pending or undelivered for a group.",
            labels=["stream", "group"],
        )
        for stream, state in self.status.streams.items():
            length.add_metric([stream], state.length)
            for group in state.groups:
                if group.lag is not None:
                    lag.add_metric([stream, group.name], group.lag)
                pending.add_metric([stream, group.name], group.pending)
                waiting.add_metric([stream, group.name], group.oldest_waiting_seconds or 0.0)
        yield from (length, lag, pending, waiting)


def metrics_text(status: SystemStatus) -> bytes:
    """The exposition of `status` (a registry of its own: nothing process-global is exported)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return generate_latest(registry)
