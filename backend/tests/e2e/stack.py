"""The real processes (receiver, engine, gateway) on a real Redis and their own database."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import redis

from apps.core.ports import free_port, port_wait

BACKEND = Path(__file__).resolve().parents[2]


class Database:
    """A database of its own for the stack: a PostgreSQL database when the run has one, else SQLite."""

    def __init__(self, tmp: Path) -> None:
        base = os.environ.get("DATABASE_URL", "")
        self.postgres = base.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            self.name = f"e2e_{uuid.uuid4().hex[:10]}"
            self.admin_url = base
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = re.sub(r"/[^/]*$", f"/{self.name}", base)
        else:
            self.url = f"sqlite:///{tmp / 'e2e.sqlite3'}"

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.postgres:
            with psycopg.connect(self.url) as conn:
                return list(conn.execute(sql.replace("?", "%s"), params).fetchall())
        path = self.url.removeprefix("sqlite:///")
        with sqlite3.connect(path, timeout=10) as conn:
            return list(conn.execute(sql, params).fetchall())

    def drop(self) -> None:
        if self.postgres:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class RedisServer:
    """A redis-server of the stack's own, in its own folder with AOF `always` (as production keeps
    alerts), that a fault test can kill and start again on the same port."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 15.0) -> None:
        """Start (again) and return once it answers, its AOF loaded."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--logfile", str(self.dir / "redis.log")]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_wait(self.port, timeout=timeout)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()  # LOADING while the AOF is read back
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=15)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            try:
                self.kill(signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)


class Stack:
    """Starts and stops the processes; every process logs to a file under `tmp`. `commands` can
    name more processes (the Python interpreter's arguments, run in backend/), such as an exchange
    simulator (`-m simulators.binance`)."""

    def __init__(
        self, *, tmp: Path, redis_url: str, database: Database, extra_env: dict[str, str] | None = None
    ) -> None:
        self.tmp = tmp
        self.database = database
        self.receiver_port = free_port()
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "aristobot.settings_test",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "ARISTOBOT_VAR_DIR": str(tmp),
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{self.receiver_port}",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {
            "receiver": ["manage.py", "run_webhook_receiver", "--host", "127.0.0.1", "--port", str(self.receiver_port)],
            "engine": ["manage.py", "run_trading_engine", "--consumer", "engine-e2e"],
            "engine2": ["manage.py", "run_trading_engine", "--consumer", "engine-e2e-2"],
            "gateway": ["manage.py", "run_native_exchange_service", "--consumer", "gateway-e2e"],
        }

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BACKEND, env=self.env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, name: str) -> None:
        # The web process is Daphne itself, as in production (`daphne aristobot.asgi:application`).
        daphne = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(self.web_port), "aristobot.asgi:application"]
        argv = daphne if name == "web" else self.commands[name]
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, *argv], cwd=BACKEND, env=self.env, stdout=log, stderr=log
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        process.send_signal(sig)
        process.wait(timeout=15)
        del self.processes[name]

    def stop(self) -> None:
        for name in list(self.processes):
            try:
                self.kill(name, signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.kill(name, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.tmp.glob("*.log")))

    def wait_until(self, condition: Any, *, timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
