"""`manage.py status`: processes, streams, dead letters and heartbeat on a live Redis; exit codes."""

from __future__ import annotations

import json
import socket
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core.liveness import PROCS_INDEX
from apps.core.status import status_collect
from apps.core.streams import ENGINE_GROUP, HEARTBEAT_LAST, WEBHOOK_DEAD, WEBHOOK_RAW

from .conftest import ALL, healthy_stack, process_record

pytestmark = pytest.mark.integration


def _status(capsys, *args: str) -> tuple[int, str]:
    code, out, _ = _status_err(capsys, *args)
    return code, out


def _status_err(capsys, *args: str) -> tuple[int, str, str]:
    try:
        call_command("status", *args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    else:
        code = 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_healthy_stack_prints_every_process_alive_and_exits_0(redis_client, capsys):
    healthy_stack(redis_client)
    redis_client.xadd(WEBHOOK_RAW, {"body": "{}"})
    redis_client.xreadgroup(ENGINE_GROUP, "engine-box", {WEBHOOK_RAW: ">"})

    code, out = _status(capsys)

    assert code == 0, out
    assert "OK" in out.splitlines()[0]
    for name in ALL:
        assert f"{name:<10} alive" in out
    assert "last activity 3 s ago" in out
    line = next(line for line in out.splitlines() if line.strip().startswith(WEBHOOK_RAW))
    assert line.split()[1:6] == ["1", "engine", "1", "1", "0"]  # length, group, consumers, pending, lag
    assert "Dead letters (webhook_raw_dead): 0" in out
    assert "Heartbeat: 1 symbol(s), last candle published 5 s ago" in out


def test_a_process_gone_makes_the_stack_unhealthy_with_exit_code_1(redis_client, capsys):
    healthy_stack(redis_client)
    redis_client.delete("proc:engine:box:102")  # its TTL ran out: it stopped beating

    code, out = _status(capsys)

    assert code == 1
    assert "UNHEALTHY" in out.splitlines()[0]
    assert "engine     GONE" in out
    assert "- engine is not running (last seen" in out


def test_a_process_never_started_is_reported(redis_client, capsys):
    healthy_stack(redis_client)
    redis_client.hdel(PROCS_INDEX, "proc:heartbeat:box:104")
    redis_client.delete("proc:heartbeat:box:104")

    code, out = _status(capsys, "--json")
    state = json.loads(out)

    assert code == 1
    assert state["healthy"] is False
    assert "heartbeat is not running (never seen)" in state["problems"]


def test_processes_option_narrows_what_must_be_alive(redis_client, capsys):
    healthy_stack(redis_client)
    redis_client.delete("proc:web:box:100")

    code, _ = _status(capsys, "--processes", "receiver,engine")

    assert code == 0


def test_pending_lag_and_an_old_waiting_alert_are_shown_and_unhealthy(redis_client, capsys):
    healthy_stack(redis_client)
    old = int((time.time() - 600) * 1000)
    redis_client.xadd(WEBHOOK_RAW, {"body": "a"}, id=f"{old}-0")
    redis_client.xadd(WEBHOOK_RAW, {"body": "b"}, id=f"{old}-1")
    redis_client.xadd(WEBHOOK_RAW, {"body": "c"})
    redis_client.xreadgroup(ENGINE_GROUP, "engine-box", {WEBHOOK_RAW: ">"}, count=1)  # one pending, two not read

    code, out = _status(capsys, "--json")
    group = json.loads(out)["streams"][WEBHOOK_RAW]["groups"][0]

    assert code == 1
    assert group == {
        "name": ENGINE_GROUP,
        "consumers": 1,
        "pending": 1,
        "lag": 2,
        "oldest_waiting_seconds": pytest.approx(600, abs=5),
    }
    assert any("webhook_raw: an entry has waited" in problem for problem in json.loads(out)["problems"])


def test_a_recent_dead_letter_is_counted_and_unhealthy(redis_client, capsys):
    healthy_stack(redis_client)
    redis_client.xadd(WEBHOOK_DEAD, {"stream": WEBHOOK_RAW, "entry_id": "1-0"})
    redis_client.xadd(WEBHOOK_DEAD, {"stream": WEBHOOK_RAW, "entry_id": "2-0"})

    code, out = _status(capsys)

    assert code == 1
    assert "Dead letters (webhook_raw_dead): 2, the last 0 s ago" in out
    assert "webhook_raw_dead: an alert was given up" in out


def test_an_old_dead_letter_is_shown_but_not_a_problem(redis_client, capsys):
    healthy_stack(redis_client)
    redis_client.xadd(WEBHOOK_DEAD, {"stream": WEBHOOK_RAW}, id=f"{int((time.time() - 7200) * 1000)}-0")

    code, out = _status(capsys)

    assert code == 0, out
    assert "Dead letters (webhook_raw_dead): 1, the last 2.0 h ago" in out


def test_a_stale_heartbeat_is_unhealthy(redis_client, capsys, settings):
    healthy_stack(redis_client)
    settings.HEARTBEAT_STALE_SECONDS = 60
    candle = {"exchange": "paper", "time": "2026-01-01T00:00:00+00:00", "close": "1", "published_at": time.time() - 300}
    redis_client.hset(HEARTBEAT_LAST, "BTC/USDT", json.dumps(candle))

    code, out = _status(capsys)

    assert code == 1
    assert "heartbeat: the last candle was published 300 s ago" in out


def test_redis_unreachable_exits_2(settings, capsys):
    from apps.core.ports import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    code, _, err = _status_err(capsys)

    assert code == 2
    assert "Redis does not answer" in err


def test_alive_checks_only_this_hosts_process(redis_client, capsys):
    from apps.core.liveness import Liveness, LivenessPublisher

    LivenessPublisher(Liveness("engine"), redis_client).beat()  # this host
    process_record(redis_client, "gateway")  # another host ("box")

    call_command("status", "--alive", "engine")
    with pytest.raises(CommandError, match=f"no live gateway process on {socket.gethostname()}"):
        call_command("status", "--alive", "gateway")


def test_records_of_processes_gone_for_a_day_are_forgotten(redis_client):
    healthy_stack(redis_client)
    liveness = process_record(redis_client, "engine", pid=999, alive=False)
    old = json.loads(redis_client.hget(PROCS_INDEX, liveness.key))
    old["beat_at"] = repr(time.time() - 2 * 86400)
    redis_client.hset(PROCS_INDEX, liveness.key, json.dumps(old))

    status = status_collect(redis_client)

    assert all(process.pid != 999 for process in status.processes)
    assert not redis_client.hexists(PROCS_INDEX, liveness.key)
