"""`manage.py status`: is every process alive, are the streams flowing, is anything given up."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.liveness import PROC_PREFIX, PROCS_INDEX
from apps.core.redis_client import redis_sync
from apps.core.status import SystemStatus, status_collect

EXIT_UNHEALTHY = 1
EXIT_UNREACHABLE = 2


def _ago(value: float | None) -> str:
    return "none yet" if value is None else f"{_seconds(value)} ago"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def status_text(status: SystemStatus) -> str:
    """The status as a few aligned lines for a terminal."""
    lines = [f"Aristobot at {status.checked_at}: {'OK' if status.healthy else 'UNHEALTHY'}", "", "Processes"]
    if not status.processes:
        lines.append("  (none has published a liveness record)")
    for p in sorted(status.processes, key=lambda p: (p.name, not p.alive, p.host, p.pid)):
        lines.append(
            f"  {p.name:<10} {'alive' if p.alive else 'GONE':<6} {p.host}:{p.pid:<8} "
            f"last activity {_ago(p.last_activity_age_seconds)}, last beat {_ago(p.last_beat_age_seconds)}"
        )
    lines += [
        "",
        f"  {'stream':<18} {'length':>8}  {'group':<10} {'consumers':>9} {'pending':>8} {'lag':>6}  oldest waiting",
    ]
    for stream, state in status.streams.items():
        if not state.groups:
            lines.append(f"  {stream:<18} {state.length:>8}  (no consumer group yet)")
        for group in state.groups:
            lag = "?" if group.lag is None else str(group.lag)
            lines.append(
                f"  {stream:<18} {state.length:>8}  {group.name:<10} {group.consumers:>9} {group.pending:>8} {lag:>6}  "
                f"{_seconds(group.oldest_waiting_seconds)}"
            )
    dead_age = status.last_dead_letter_age_seconds
    lines.append("")
    lines.append(
        f"Dead letters (webhook_raw_dead): {status.dead_letters}"
        + (f", the last {_seconds(dead_age)} ago" if dead_age is not None else "")
    )
    beat = status.heartbeat
    lines.append(
        f"Heartbeat: {beat.symbols} symbol(s), last candle published {_seconds(beat.age_seconds)} ago"
        if beat.age_seconds is not None
        else "Heartbeat: no candle yet"
    )
    if status.problems:
        lines += ["", "Problems"] + [f"  - {problem}" for problem in status.problems]
    return "\n".join(lines)


def process_alive_here(client: redis.Redis, name: str, host: str) -> bool:
    """True when a process `name` on `host` has a live record (the container's health check)."""
    prefix = f"{PROC_PREFIX}{name}:{host}:"
    keys = (key.decode() if isinstance(key, bytes) else str(key) for key in client.hkeys(PROCS_INDEX))
    mine = [key for key in keys if key.startswith(prefix)]
    return bool(mine) and bool(client.exists(*mine))


class Command(BaseCommand):
    help = (
        "Show each process (alive or gone, last activity), the streams (length, pending, lag), the dead-letter "
        "count and the heartbeat's age. Exit code 1 when something is wrong, 2 when Redis does not answer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON (the same as GET /health/)")
        parser.add_argument(
            "--processes",
            default=None,
            help="comma-separated processes that must be alive (default: HEALTH_REQUIRED_PROCESSES)",
        )
        parser.add_argument(
            "--alive",
            metavar="NAME",
            default=None,
            help="only check that process NAME runs on this host (exit 0) or not (exit 1): a container health check",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = redis_sync()
        try:
            if options["alive"]:
                self._alive(client, options["alive"])
                return
            required = None
            if options["processes"] is not None:
                required = tuple(name.strip() for name in options["processes"].split(",") if name.strip())
            status = status_collect(client, required=required)
        except (redis.RedisError, OSError) as exc:
            self.stderr.write(f"Redis does not answer ({exc})")
            sys.exit(EXIT_UNREACHABLE)
        finally:
            client.close()
        if options["json"]:
            self.stdout.write(json.dumps(status.to_dict(), indent=2))
        else:
            self.stdout.write(status_text(status))
        if not status.healthy:
            sys.exit(EXIT_UNHEALTHY)

    def _alive(self, client: redis.Redis, name: str) -> None:
        host = socket.gethostname()
        if not process_alive_here(client, name, host):
            raise CommandError(f"no live {name} process on {host}", returncode=EXIT_UNHEALTHY)
        self.stdout.write(f"{name} is alive on {host}")
