"""Start the whole Aristobot stack on this machine, and stop it cleanly: what `make run` runs.

It prepares, then hands the Procfile's processes to honcho. Preparing: a private Redis under
var/redis (AOF on), `manage.py migrate`, `manage.py seed_demo`, the ports and environment. honcho
runs web, receiver, engine(s) (two on two cores or more; --engines or ENGINE_PROCESSES), gateway
and heartbeat from backend/, prefixes each output line with its process name, and stops them
all (SIGTERM, SIGKILL after 5 s) on Ctrl-C, on SIGTERM, or when one exits. Redis stops last,
with SHUTDOWN, which flushes its append-only file. Once the ports answer, it prints where to
look: the URLs, the demo login, a curl command that sends a test alert. The browser tests start
a second stack beside a developer's (scripts/e2e_stack.py): other ports (0: any free one),
another data folder, their Redis, and one JSON line on stdout once ready.

    scripts/run.py [--no-seed] [--only web,receiver] [--engines N]
    scripts/run.py --web-port 0 --receiver-port 0 --var-dir /tmp/x [--redis-url URL] --json-ready
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
from dotenv import dotenv_values
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Message, Printer
from redis.backoff import NoBackoff
from redis.retry import Retry

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "backend"
WEB_PORT, RECEIVER_PORT, REDIS_PORT = 8000, 8888, 6379
WAIT_SECONDS = 30.0  # for Redis to answer, then the ports; for Redis to stop
SYSTEM = "system"  # honcho's name for its own lines; this script's lines use it too
Say = Callable[[str], None]
RedisProcess = subprocess.Popen[bytes]  # the private redis-server


class StartupError(Exception):
    """The stack cannot start; the message says why and what to do."""


class StackPrinter(Printer):
    """honcho's printer; a message without a process name is printed bare (the --json-ready line)."""

    def write(self, message: Message) -> None:
        if message.name is None:
            print(message.data, file=self.output, flush=True)
        else:
            super().write(message)


def line(name: str | None, text: str) -> Message:
    return Message(type="line", data=text, time=datetime.datetime.now(), name=name, colour=None)


def processes_select(procfile: dict[str, str], *, only: str | None, engines: int) -> dict[str, str]:
    """The Procfile's processes to start, by name: all or --only's, `engine` as engine1, engine2, …"""
    names = list(procfile) if only is None else [name.strip() for name in only.split(",") if name.strip()]
    if not names or any(name not in procfile for name in names):
        raise StartupError(f"--only takes a comma-separated list of {', '.join(procfile)}; got {only!r}")
    selected: dict[str, str] = {}
    for name in (name for name in procfile if name in names):
        copies = [f"engine{n}" for n in range(1, engines + 1)] if name == "engine" and engines > 1 else [name]
        selected |= dict.fromkeys(copies, procfile[name])
    return selected


def engines_choose(requested: int | None, dotenv: dict[str, str]) -> int:
    """--engines, else ENGINE_PROCESSES, else one engine per core up to two."""
    raw = os.environ.get("ENGINE_PROCESSES") or dotenv.get("ENGINE_PROCESSES")
    raw = raw if requested is None else str(requested)
    if raw is None:
        return min(2, os.cpu_count() or 1)
    if not raw.isdigit() or int(raw) < 1:
        raise StartupError(f"--engines / ENGINE_PROCESSES must be a whole number of 1 or more, got {raw!r}")
    return int(raw)


def stack_environment(*, var_dir: Path, dotenv: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """The caller's environment plus what the stack needs; a value set there or in .env wins.

    No secrets: settings.py makes var/secrets.env once (aristobot.env) and every process reads it.
    """
    env = dict(os.environ)
    env.setdefault("DEBUG", dotenv.get("DEBUG", "1"))
    env.setdefault("LOG_FORMAT", "plain")  # lines are prefixed with the process name; JSON is for production
    if ports["receiver"] != RECEIVER_PORT and not (env.get("WEBHOOK_PUBLIC_URL") or dotenv.get("WEBHOOK_PUBLIC_URL")):
        env["WEBHOOK_PUBLIC_URL"] = f"http://localhost:{ports['receiver']}"  # the URLs shown point at this receiver
    env |= {"WEB_PORT": str(ports["web"]), "RECEIVER_PORT": str(ports["receiver"])}  # read by the Procfile
    env |= {"ARISTOBOT_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def port_open(port: int) -> bool:
    """Whether something listens on this port of 127.0.0.1."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def ports_choose(**wanted: int) -> dict[str, int]:
    """The ports asked for by name, each 0 replaced by a free port none of the others uses."""
    chosen = dict(wanted)
    for name in wanted:
        while not chosen[name]:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                candidate = int(sock.getsockname()[1])
            chosen[name] = 0 if candidate in chosen.values() else candidate
    return chosen


def redis_client(port: int, timeout: float) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))  # one try: we wait ourselves


def redis_start(var_dir: Path, dotenv: dict[str, str], say: Say) -> tuple[RedisProcess, int]:
    """Start the private Redis under var/redis (its log: redis.log there) and wait until it answers."""
    if not (binary := shutil.which("redis-server")):
        raise StartupError("redis-server is not installed: run `make setup` (as root it installs it)")
    folder = var_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    redis_stop_leftover(folder, say)
    if not (raw := os.environ.get("REDIS_PORT") or dotenv.get("REDIS_PORT") or str(REDIS_PORT)).isdigit():
        raise StartupError(f"REDIS_PORT must be a port number, got {raw!r}")
    if port_open(port := int(raw)):
        port = ports_choose(redis=0)["redis"]
        say(f"port {raw} is taken (another Redis?): the private Redis uses port {port} instead")
    argv = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
        "--loglevel", "warning", "--logfile", str(folder / "redis.log"), "--pidfile", str(folder / "redis.pid"),
    ]  # fmt: skip
    # A session of its own: Ctrl-C does not reach it; it stops last, with SHUTDOWN.
    proc = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while True:
            with contextlib.suppress(redis.RedisError):  # LOADING while it reads its append-only file
                if redis_client(port, 1).ping():
                    return proc, port
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StartupError(f"redis-server does not answer on port {port}: see {folder / 'redis.log'}")
            time.sleep(0.1)
    except BaseException:
        redis_stop(proc, port)
        raise


def redis_stop(proc: RedisProcess, port: int) -> None:
    """SHUTDOWN, which flushes the append-only file (SIGTERM if refused); SIGKILL after 30 s."""
    if proc.poll() is None:
        try:
            redis_client(port, WAIT_SECONDS).shutdown()  # its answer is the connection closing
        except redis.RedisError:
            proc.terminate()  # Redis flushes on SIGTERM too
    try:
        proc.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def redis_stop_leftover(folder: Path, say: Say) -> None:
    """Stop a Redis that a killed run left on this folder: two on one append-only file corrupt it."""
    with contextlib.suppress(OSError, ValueError):  # no pid file, or not Linux: nothing to do
        pid = int((folder / "redis.pid").read_text().strip())
        if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
            say(f"a Redis left by an earlier run is still running (pid {pid}): stopping it")
            os.kill(pid, signal.SIGTERM)  # Redis flushes its append-only file on SIGTERM
            deadline = time.monotonic() + WAIT_SECONDS
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)


def run_once(printer: Printer, name: str, argv: Sequence[str], env: dict[str, str]) -> list[str]:
    """Run a one-shot command from backend/ to its end, its lines printed as `name`'s; returns them."""
    lines: list[str] = []
    with subprocess.Popen(  # noqa: S603 - fixed argv
        argv, cwd=BACKEND, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace",
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        try:
            for text in proc.stdout:
                lines.append(text.rstrip("\n"))
                printer.write(line(name, lines[-1]))
        except BaseException:  # Ctrl-C or SIGTERM meanwhile
            proc.kill()
            raise
    if proc.returncode != 0:
        raise StartupError(f"{' '.join(argv[1:3])} failed with exit code {proc.returncode}")
    return lines


def seed_facts(lines: Sequence[str]) -> dict[str, Any]:
    """The webhook URL, curl command and its example alert that seed_demo printed ({} when absent)."""
    facts: dict[str, Any] = {}
    for text in lines:
        if match := re.match(r"^\s*Webhook URL:\s*(\S+)", text):
            facts["webhook_url"] = match.group(1)
        if re.match(r"^\s*curl\s", text):
            facts["curl"] = text.strip()
        if (match := re.search(r"curl\s.*-d '(\{.*?\})'", text)) and facts.get("curl"):
            with contextlib.suppress(ValueError):
                facts["demo_alert"] = json.loads(match.group(1))
    return facts


def banner(
    *, names: Sequence[str], ports: dict[str, int], env: dict[str, str], redis_text: str, curl: str | None
) -> str:
    database = env.get("DATABASE_URL") or f"SQLite {Path(env['ARISTOBOT_VAR_DIR']) / 'aristobot.sqlite3'}"
    web, receiver = f"http://127.0.0.1:{ports['web']}", f"http://127.0.0.1:{ports['receiver']}"
    lines = ["", "Aristobot is running:"]
    if "web" in names:
        lines += [f"  dashboard / API   {web}", f"  admin             {web}/admin/"]
        lines += ["  login             demo / demo (made by seed_demo)"]
    if "receiver" in names:
        lines += [f"  webhook receiver  {receiver}/webhook", f"  health            {receiver}/health"]
    lines += [f"  Redis             {redis_text}", f"  database          {database}"]
    lines += [f"  processes         {', '.join(names)}"]
    if curl:
        lines += ["", "Send a test alert:", f"  {curl}"]
    return "\n".join([*lines, "", "Ctrl-C stops everything.", ""])


def ready_line(*, names: Sequence[str], ports: dict[str, int], env: dict[str, str], seed: dict[str, Any]) -> str:
    """The one JSON line --json-ready prints once every port answers: what a test needs to know."""
    var_dir = Path(env["ARISTOBOT_VAR_DIR"])
    facts = {
        "ready": True,
        "pid": os.getpid(),
        "web_url": f"http://127.0.0.1:{ports['web']}" if "web" in names else None,
        "receiver_url": f"http://127.0.0.1:{ports['receiver']}" if "receiver" in names else None,
        "redis_url": env["REDIS_URL"],
        "database_url": env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'aristobot.sqlite3'}",
        "var_dir": str(var_dir),
        "processes": list(names),
    }
    return json.dumps(facts | seed)


def watch(
    manager: Manager,
    ports: list[int],
    text: str,
    json_ready: bool,
    redis_proc: RedisProcess | None,
    problems: list[str],
) -> None:
    """Beside honcho's loop: announce the stack once its ports answer, then stop it if Redis dies.

    It prints through honcho's event queue, and stops the stack as SIGTERM does, by sending it.
    """

    def stop(problem: str) -> None:
        problems.append(problem)
        manager.events.put(line(SYSTEM, f"{problem}: stopping"))
        time.sleep(0.3)  # honcho's loop prints that first (it reads its queue every 0.1 s)
        os.kill(os.getpid(), signal.SIGTERM)  # honcho's handler stops the processes, in the main thread

    deadline = time.monotonic() + WAIT_SECONDS
    while not (ready := all(port_open(port) for port in ports)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not ready and json_ready:  # a test waits for a stack that works
        return stop(f"not listening after {WAIT_SECONDS:.0f} s")
    manager.events.put(line(None if json_ready else SYSTEM, text))  # no name: printed bare
    while redis_proc is not None and redis_proc.poll() is None:
        time.sleep(0.5)
    if redis_proc is not None:
        stop(f"redis exited unexpectedly with code {redis_proc.returncode}")


def port_arg(raw: str) -> int:
    """A TCP port for --web-port / --receiver-port: 0 picks a free one."""
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0 to 65535): {raw!r}")
    return int(raw)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--no-seed", action="store_true", help="do not run manage.py seed_demo")
    add("--only", metavar="NAMES", help="start only these Procfile processes, e.g. web,receiver (Redis always starts)")
    add("--web-port", type=port_arg, default=WEB_PORT, help="web port (default 8000; 0: any free)")
    add("--receiver-port", type=port_arg, default=RECEIVER_PORT, help="receiver port (default 8888; 0: any free)")
    add("--engines", type=int, metavar="N", help="engine processes (default: ENGINE_PROCESSES, else 2 on 2+ cores)")
    add("--var-dir", metavar="DIR", help="data folder (default var/ or $ARISTOBOT_VAR_DIR)")
    add("--redis-url", metavar="URL", help="use this Redis instead of starting the private one")
    add("--json-ready", action="store_true", help="once ready, print one JSON line of URLs instead of the banner")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare, run honcho's loop, stop Redis; SIGINT and SIGTERM are ignored from then on."""
    args = parse_args(argv)
    dotenv = {name: value for name, value in dotenv_values(REPO / ".env").items() if value is not None}
    printer = StackPrinter(sys.stdout, colour=not os.environ.get("NO_COLOR"))
    manager = Manager(printer)
    printer.width = len("heartbeat")  # the widest name: the lines before honcho's line up with its own

    def say(text: str) -> None:
        printer.write(line(SYSTEM, text))

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # until honcho's loop: stop as Ctrl-C does
    signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))  # terminal closed: the same
    var_dir = Path(args.var_dir or os.environ.get("ARISTOBOT_VAR_DIR") or dotenv.get("ARISTOBOT_VAR_DIR") or "var")
    var_dir = (REPO / var_dir).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    lock = (var_dir / "run.lock").open("a+")
    redis_proc: RedisProcess | None = None
    redis_port, code = 0, 1
    problems: list[str] = []  # why watch() stopped the stack, if it did
    try:
        ports = ports_choose(web=args.web_port, receiver=args.receiver_port)
        procfile = parse_procfile((REPO / "Procfile").read_text()).processes
        selected = processes_select(procfile, only=args.only, engines=engines_choose(args.engines, dotenv))
        served = [port for name, port in ports.items() if name in selected]
        if taken := [port for port in served if port_open(port)]:
            raise StartupError(f"port {taken[0]} is already in use (another `make run`?): stop that first")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartupError(f"another `make run` is already running on {var_dir}: stop it first") from None

        env = stack_environment(var_dir=var_dir, dotenv=dotenv, ports=ports)
        if args.redis_url:
            env["REDIS_URL"], redis_text = args.redis_url, f"{args.redis_url} (--redis-url: not started here)"
        else:
            redis_proc, redis_port = redis_start(var_dir, dotenv, say)
            if configured := env.get("REDIS_URL") or dotenv.get("REDIS_URL"):
                say(f"REDIS_URL={configured} is ignored: `make run` uses its private Redis")
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            redis_text = f"{env['REDIS_URL']} (data in {var_dir / 'redis'})"
        run_once(printer, "migrate", [sys.executable, "manage.py", "migrate", "--noinput"], env)
        seed: dict[str, Any] = {}
        if args.no_seed:
            say("--no-seed: demo data not (re)created")
        else:
            seed = seed_facts(run_once(printer, "seed", [sys.executable, "manage.py", "seed_demo"], env))

        if args.json_ready:
            text = ready_line(names=list(selected), ports=ports, env=env, seed=seed)
        else:
            text = banner(names=list(selected), ports=ports, env=env, redis_text=redis_text, curl=seed.get("curl"))
        for name, command in selected.items():
            manager.add_process(name, command, env=env, cwd=str(BACKEND))
        watching = (manager, served, text, args.json_ready, redis_proc, problems)
        # Started before honcho forks its process runners: it holds no lock they need (it sleeps and connects).
        threading.Thread(target=watch, args=watching, daemon=True).start()
        manager.loop()  # honcho starts them all; stops them all on SIGINT or SIGTERM, or when one exits
        code = 0 if manager.returncode in (130, 143) and not problems else 1  # 130, 143: stopped by a signal
    except StartupError as exc:
        say(f"error: {exc}")
    except KeyboardInterrupt:
        code = 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # nothing interrupts Redis's SHUTDOWN
            signal.signal(signum, signal.SIG_IGN)
        if redis_proc is not None:
            say("stopping redis")
            redis_stop(redis_proc, redis_port)
        lock.close()
    say("all stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
