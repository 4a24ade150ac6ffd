"""Start the real backend processes for a benchmark: Redis, gateway, engine, receiver."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"
sys.path.insert(0, str(BACKEND))

from apps.core.ports import free_port, port_wait  # noqa: E402  (standard library only)


class BenchStack:
    """Everything in a temporary directory, torn down on exit; SQLite unless DATABASE_URL is set."""

    def __init__(self, *, extra_env: dict[str, str] | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="aristobot-bench-"))
        self.redis_port = free_port()
        self.receiver_port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "aristobot.settings_test",
            "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{self.tmp / 'bench.sqlite3'}"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "ARISTOBOT_VAR_DIR": str(self.tmp),
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{self.receiver_port}",
            "WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BACKEND, env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout

    def start(self, *names: str) -> tuple[str, int]:
        """Start Redis and the named processes; returns (token, broker id) of the demo user."""
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise SystemExit("redis-server is not installed (make setup installs it)")
        self._spawn([redis_server, "--port", str(self.redis_port), "--save", "", "--dir", str(self.tmp)])
        port_wait(self.redis_port)
        self.manage("migrate", "--noinput")
        seeded = self.manage("seed_demo")
        token = re.search(r"/webhook/(\S+)", seeded).group(1)  # type: ignore[union-attr]
        broker = int(re.search(r"paper broker 'Paper' \(id (\d+)\)", seeded).group(1))  # type: ignore[union-attr]
        commands = {
            "gateway": ["run_native_exchange_service"],
            "engine": ["run_trading_engine"],
            "receiver": ["run_webhook_receiver", "--host", "127.0.0.1", "--port", str(self.receiver_port)],
        }
        for name in names:
            self._spawn([sys.executable, "manage.py", *commands[name]], cwd=BACKEND)
        if "receiver" in names:
            port_wait(self.receiver_port)
        time.sleep(1.0)
        return token, broker

    def _spawn(self, command: list[str], cwd: Path | None = None) -> None:
        log = open(self.tmp / f"process-{len(self.processes)}.log", "ab")  # noqa: SIM115
        self.processes.append(subprocess.Popen(command, cwd=cwd, env=self.env, stdout=log, stderr=log))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sql(self, query: str) -> list[tuple[object, ...]]:
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            import sqlite3

            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                return list(conn.execute(query).fetchall())
        import psycopg

        with psycopg.connect(url) as conn:
            return list(conn.execute(query).fetchall())
