"""The operator's view of a running stack, read from Redis in two round trips.

Processes (their liveness records), streams (length, and per consumer group: pending entries,
lag, age of the oldest entry waiting), the dead-letter stream, the heartbeat's age and the shared
counters. `manage.py status`, the web's GET /health/, the receiver's GET /health and /metrics
all read it through `status_collect` (sync) or `status_collect_async`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from apps.core.heartbeat.status import heartbeat_last_parse
from apps.core.liveness import PROCS_INDEX
from apps.core.metrics import COUNTERS_KEY, LATENCY_KEY
from apps.core.streams import (
    EXCHANGE_EVENTS,
    EXCHANGE_REQUESTS,
    HEARTBEAT,
    HEARTBEAT_LAST,
    UI_EVENTS,
    WEBHOOK_DEAD,
    WEBHOOK_RAW,
    entry_ms,
    text,
)

STREAMS = (WEBHOOK_RAW, EXCHANGE_REQUESTS, EXCHANGE_EVENTS, HEARTBEAT, UI_EVENTS)
PROCESS_NAMES = ("web", "receiver", "engine", "gateway", "heartbeat")
STUCK_SECONDS = 120.0  # an entry waiting longer than this for its group is a problem
DEAD_LETTER_RECENT_SECONDS = 3600.0  # a dead letter younger than this is a problem
FORGET_GONE_SECONDS = 86400.0  # records of processes gone for longer are deleted


def _entry_seconds(entry_id: Any) -> float | None:
    """The Unix time in an entry id (`<milliseconds>-<sequence>`)."""
    try:
        return entry_ms(entry_id) / 1000
    except ValueError:
        return None


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def _age(now: float, moment: float | None) -> float | None:
    return None if moment is None else round(max(0.0, now - moment), 3)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ProcessState:
    name: str
    host: str
    pid: int
    alive: bool
    started_at: str | None
    last_activity: str | None
    last_activity_age_seconds: float | None
    last_beat_age_seconds: float | None


@dataclass(frozen=True)
class GroupState:
    name: str
    consumers: int
    pending: int
    lag: int | None  # entries not delivered to the group yet (None: Redis cannot tell after a trim)
    oldest_waiting_seconds: float | None  # the oldest entry pending or not yet delivered


@dataclass(frozen=True)
class StreamState:
    length: int
    groups: list[GroupState]


@dataclass(frozen=True)
class HeartbeatState:
    symbols: int
    age_seconds: float | None  # since the freshest candle was published


@dataclass
class SystemStatus:
    checked_at: str
    processes: list[ProcessState]
    streams: dict[str, StreamState]
    dead_letters: int
    last_dead_letter_age_seconds: float | None
    heartbeat: HeartbeatState
    counters: dict[str, int] = field(default_factory=dict)
    order_latency: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for /health/ and `status --json` (counters and latency are /metrics' business)."""
        data = asdict(self)
        data.pop("counters")
        data.pop("order_latency")
        return {"healthy": self.healthy, **data}


def _phase_one(pipe: Any) -> None:
    pipe.time()
    pipe.hgetall(PROCS_INDEX)
    for stream in STREAMS:
        pipe.xlen(stream)
        pipe.xinfo_groups(stream)
    pipe.xlen(WEBHOOK_DEAD)
    pipe.xrevrange(WEBHOOK_DEAD, count=1)
    pipe.hgetall(HEARTBEAT_LAST)
    pipe.hgetall(COUNTERS_KEY)
    pipe.hgetall(LATENCY_KEY)


class _Gathered:
    """Phase one's answers, and what phase two must ask."""

    def __init__(self, results: list[Any]) -> None:
        answers = iter(results)
        now = next(answers)
        if isinstance(now, BaseException):
            raise now  # Redis is not answering at all
        self.now = int(now[0]) + int(now[1]) / 1_000_000
        self.records = {text(k): v for k, v in _ok(next(answers), {}).items()}
        self.streams: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for stream in STREAMS:
            length = _ok(next(answers), 0)
            groups = _ok(next(answers), [])
            self.streams[stream] = (int(length), groups)
        self.dead_letters = int(_ok(next(answers), 0))
        last_dead = _ok(next(answers), [])
        self.last_dead_at = _entry_seconds(last_dead[0][0]) if last_dead else None
        self.heartbeat = heartbeat_last_parse(_ok(next(answers), {}))
        self.counters = {text(k): int(v) for k, v in _ok(next(answers), {}).items()}
        self.latency = {text(k): float(v) for k, v in _ok(next(answers), {}).items()}

    def phase_two(self, pipe: Any) -> None:
        for key in self.records:
            pipe.exists(key)
        for stream, (_, groups) in self.streams.items():
            for group in groups:
                pipe.xpending(stream, group["name"])
                pipe.xrange(stream, min="(" + text(group["last-delivered-id"]), count=1)

    def status(self, results: list[Any], required: tuple[str, ...]) -> tuple[SystemStatus, list[str]]:
        """The status, and the process records to forget (gone for a day)."""
        answers = iter(results)
        processes, forget = [], []
        for key, raw in self.records.items():  # the order phase two asked in
            alive = bool(_ok(next(answers), 0))
            try:
                record = json.loads(raw)
            except ValueError:
                forget.append(key)
                continue
            beat_at = _float(record.get("beat_at"))
            if not alive and (beat_at is None or self.now - beat_at > FORGET_GONE_SECONDS):
                forget.append(key)
                continue
            activity = _float(record.get("last_activity"))
            processes.append(
                ProcessState(
                    name=str(record.get("name", "")),
                    host=str(record.get("host", "")),
                    pid=int(record.get("pid") or 0),
                    alive=alive,
                    started_at=_iso(_float(record.get("started_at"))),
                    last_activity=_iso(activity),
                    last_activity_age_seconds=_age(self.now, activity),
                    last_beat_age_seconds=_age(self.now, beat_at),
                )
            )
        processes.sort(key=lambda p: (p.name, p.host, p.pid))
        streams = {}
        for stream, (length, groups) in self.streams.items():
            states = []
            for group in groups:
                pending = _ok(next(answers), {})
                undelivered = _ok(next(answers), [])
                waiting = [_entry_seconds(pending.get("min")) if pending.get("pending") else None]
                waiting.append(_entry_seconds(undelivered[0][0]) if undelivered else None)
                oldest = min((moment for moment in waiting if moment is not None), default=None)
                lag = group.get("lag")
                states.append(
                    GroupState(
                        name=text(group["name"]),
                        consumers=int(group.get("consumers") or 0),
                        pending=int(group.get("pending") or 0),
                        lag=None if lag is None else int(lag),
                        oldest_waiting_seconds=_age(self.now, oldest),
                    )
                )
            streams[stream] = StreamState(length=length, groups=states)
        published = [candle.published_at for candle in self.heartbeat.values() if candle.published_at]
        status = SystemStatus(
            checked_at=_iso(self.now) or "",
            processes=processes,
            streams=streams,
            dead_letters=self.dead_letters,
            last_dead_letter_age_seconds=_age(self.now, self.last_dead_at),
            heartbeat=HeartbeatState(len(self.heartbeat), _age(self.now, max(published, default=None))),
            counters=self.counters,
            order_latency=self.latency,
        )
        status.problems = status_problems(status, required)
        return status, forget


def _ok(value: Any, default: Any) -> Any:
    """An answer, or `default` when Redis answered an error (a stream that does not exist yet)."""
    return default if isinstance(value, BaseException) or value is None else value


def status_problems(
    status: SystemStatus, required: tuple[str, ...], *, heartbeat_stale: float | None = None
) -> list[str]:
    """What an operator must look at, in plain words; empty when all is well."""
    if heartbeat_stale is None:
        from django.conf import settings

        heartbeat_stale = float(settings.HEARTBEAT_STALE_SECONDS)
    problems = []
    for name in required:
        mine = [process for process in status.processes if process.name == name]
        if not any(process.alive for process in mine):
            seen = max((p.last_beat_age_seconds or 0.0 for p in mine), default=None)
            when = f"last seen {seen:.0f} s ago" if mine and seen is not None else "never seen"
            problems.append(f"{name} is not running ({when})")
    for stream, state in status.streams.items():
        for group in state.groups:
            if group.oldest_waiting_seconds is not None and group.oldest_waiting_seconds > STUCK_SECONDS:
                problems.append(
                    f"{stream}: an entry has waited {group.oldest_waiting_seconds:.0f} s for group {group.name}"
                )
    age = status.last_dead_letter_age_seconds
    if age is not None and age < DEAD_LETTER_RECENT_SECONDS:
        problems.append(f"{WEBHOOK_DEAD}: an alert was given up {age:.0f} s ago ({status.dead_letters} in all)")
    if "heartbeat" in required:
        if status.heartbeat.age_seconds is None:
            problems.append("heartbeat: no candle published yet")
        elif status.heartbeat.age_seconds > heartbeat_stale:
            problems.append(f"heartbeat: the last candle was published {status.heartbeat.age_seconds:.0f} s ago")
    return problems


def _required(required: tuple[str, ...] | None) -> tuple[str, ...]:
    if required is not None:
        return required
    from django.conf import settings

    return tuple(settings.HEALTH_REQUIRED_PROCESSES)


def status_collect(client: redis.Redis, *, required: tuple[str, ...] | None = None) -> SystemStatus:
    """The stack's status (raises redis errors when Redis does not answer)."""
    pipe = client.pipeline(transaction=False)
    _phase_one(pipe)
    gathered = _Gathered(pipe.execute(raise_on_error=False))
    pipe = client.pipeline(transaction=False)
    gathered.phase_two(pipe)
    status, forget = gathered.status(pipe.execute(raise_on_error=False), _required(required))
    if forget:
        client.hdel(PROCS_INDEX, *forget)
    return status


async def status_collect_async(client: aioredis.Redis, *, required: tuple[str, ...] | None = None) -> SystemStatus:
    """`status_collect` for asyncio code (the receiver's /health)."""
    pipe = client.pipeline(transaction=False)
    _phase_one(pipe)
    gathered = _Gathered(await pipe.execute(raise_on_error=False))
    pipe = client.pipeline(transaction=False)
    gathered.phase_two(pipe)
    status, forget = gathered.status(await pipe.execute(raise_on_error=False), _required(required))
    if forget:
        await client.hdel(PROCS_INDEX, *forget)
    return status
