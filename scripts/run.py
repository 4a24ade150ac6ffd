"""Start the whole Aristobot stack on this machine, and stop it cleanly: what `make run` runs.

Order: a private Redis under var/redis (AOF on), `manage.py migrate`, `manage.py seed_demo`,
then the web server, webhook receiver, trading engine(s) (two on a machine with two cores or
more, sharing the alerts; --engines or ENGINE_PROCESSES to choose), exchange gateway and the
heartbeat. Every output line is prefixed with its process name. Ctrl-C or SIGTERM
stops the processes (SIGTERM, then SIGKILL after 10 s) and Redis last, with SHUTDOWN so its
append-only file is flushed. When one process dies, the others are stopped too.

The browser tests start a second stack beside a developer's with other ports (0: any free
one), another data folder, their Redis, and one JSON line on stdout once it is ready.

Standard library only: it runs with .venv/bin/python before anything else is known to work.

    scripts/run.py [--no-seed] [--only web,receiver] [--engines N]
    scripts/run.py --web-port 0 --receiver-port 0 --var-dir /tmp/x [--redis-url URL] --json-ready
"""

from __future__ import annotations

import argparse
import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

from aristobot.env import dotenv_read, secrets_load_or_create  # noqa: E402  (stdlib only, like this script)

BACKEND = REPO / "backend"
WEB_PORT = 8000
RECEIVER_PORT = 8888
DEFAULT_REDIS_PORT = 6379
STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 30.0
SUPERVISOR = "run"
COLOURS = {
    SUPERVISOR: "1",
    "redis": "31",
    "migrate": "90",
    "seed": "90",
    "web": "32",
    "receiver": "36",
    "engine": "33",
    "gateway": "35",
    "heartbeat": "34",
}


@dataclass(frozen=True)
class Service:
    """One long-running process of the stack, started from backend/."""

    name: str
    argv: tuple[str, ...]
    command: str | None = None  # the management command, which must exist to start it
    port: int | None = None  # the port it serves, checked free before start


def stack_services(
    python: str, *, web_port: int = WEB_PORT, receiver_port: int = RECEIVER_PORT, engines: int = 1
) -> list[Service]:
    """Every process `make run` can start, in start order; `engines` engine processes share
    the alerts (named engine, or engine1, engine2, … when there are several)."""
    engine_names = ["engine"] if engines == 1 else [f"engine{n}" for n in range(1, engines + 1)]
    daphne = Path(python).parent / "daphne"
    web_argv = (str(daphne) if daphne.exists() else "daphne", "-b", "127.0.0.1", "-p", str(web_port))
    return [
        Service("web", (*web_argv, "aristobot.asgi:application"), port=web_port),
        Service(
            "receiver",
            (python, "manage.py", "run_webhook_receiver", "--port", str(receiver_port)),
            command="run_webhook_receiver",
            port=receiver_port,
        ),
        *(
            Service(name, (python, "manage.py", "run_trading_engine"), command="run_trading_engine")
            for name in engine_names
        ),
        Service("gateway", (python, "manage.py", "run_native_exchange_service"), command="run_native_exchange_service"),
        Service("heartbeat", (python, "manage.py", "run_heartbeat"), command="run_heartbeat"),
    ]


def command_exists(name: str) -> bool:
    """Whether a Django management command of that name is written in one of our apps."""
    return any(BACKEND.glob(f"apps/*/management/commands/{name}.py"))


class Console:
    """Writes lines prefixed with a padded, coloured process name; one writer at a time."""

    def __init__(self, names: Sequence[str]) -> None:
        self.width = max(len(name) for name in names)
        self.colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self.lock = threading.RLock()  # re-entrant: the signal handler writes from the main thread too

    def line(self, name: str, text: str) -> None:
        prefix = name.ljust(self.width)
        if self.colour:
            colour = COLOURS.get(name) or COLOURS.get(name.rstrip("0123456789"), "0")
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self.lock, contextlib.suppress(OSError, ValueError):
            sys.stdout.write(f"{prefix} | {text}\n")
            sys.stdout.flush()

    def say(self, text: str) -> None:
        for part in text.splitlines() or [""]:
            self.line(SUPERVISOR, part)


class StartupError(Exception):
    """The stack cannot start; the message says why and what to do."""


class Stopped(Exception):
    """A stop was asked for (Ctrl-C, SIGTERM) while the stack was starting."""


def _die_with_parent_setup() -> Callable[[], None] | None:
    """On Linux, make children get SIGTERM when the supervisor dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def die_with_parent() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return die_with_parent


_DIE_WITH_PARENT = _die_with_parent_setup()


@dataclass
class Child:
    """A started process, the thread copying its output, and that output when kept."""

    name: str
    popen: subprocess.Popen[bytes]
    pump: threading.Thread
    output: list[str] = field(default_factory=list)


class Supervisor:
    """Starts children in their own process groups, pumps their output, stops them in order."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stop_requested = threading.Event()
        self.kill_now = threading.Event()

    def request_stop(self, signum: int, _frame: object) -> None:
        if self.stop_requested.is_set():
            self.console.say("second signal: killing everything now")
            self.kill_now.set()
            return
        self.console.say(f"{signal.Signals(signum).name} received: stopping (again to kill at once)")
        self.stop_requested.set()

    def spawn(self, name: str, argv: Sequence[str], *, cwd: Path, env: dict[str, str], keep: bool = False) -> Child:
        """Start one process; its stdout and stderr go to the console, prefixed with `name`."""
        try:
            popen = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
                preexec_fn=_DIE_WITH_PARENT,
            )
        except OSError as exc:
            raise StartupError(f"cannot start {name} ({argv[0]}): {exc}") from None
        assert popen.stdout is not None
        output: list[str] = []
        pump = threading.Thread(target=self._pump, args=(name, popen.stdout, output if keep else None), daemon=True)
        pump.start()
        return Child(name, popen, pump, output)

    def _pump(self, name: str, stream: IO[bytes], keep: list[str] | None) -> None:
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if keep is not None:
                keep.append(text)
            self.console.line(name, text)
        stream.close()

    def run_once(self, name: str, argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> Child:
        """Run a one-shot command to the end; a stop request interrupts it."""
        child = self.spawn(name, argv, cwd=cwd, env=env, keep=True)
        while child.popen.poll() is None:
            if self.stop_requested.is_set():
                self.stop([child])
                raise Stopped
            time.sleep(0.1)
        child.pump.join(timeout=5)
        return child

    def watch(self, children: Sequence[Child], until: Callable[[], bool] | None = None) -> int | None:
        """Wait for a stop request, a child's exit, or `until()`; returns 1 when a child exited."""
        while not self.stop_requested.is_set():
            for child in children:
                code = child.popen.poll()
                if code is not None:
                    self.console.say(f"{child.name} exited unexpectedly {describe_exit(code)}: stopping the others")
                    return 1
            if until is not None and until():
                return None
            time.sleep(0.2)
        return 0

    def stop(self, children: Sequence[Child]) -> None:
        """SIGTERM each child's process group, wait up to 10 s, then SIGKILL what is left."""
        for child in children:
            if child.popen.poll() is None:
                signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and not self.kill_now.is_set():
            if not any(group_alive(child) for child in children):
                break
            time.sleep(0.1)
        for child in children:
            if group_alive(child):
                self.console.say(f"{child.name} did not stop within {STOP_GRACE_SECONDS:.0f} s: killing it")
                signal_group(child, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(timeout=5)
            child.pump.join(timeout=2)


def signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.popen.pid, signum)


def group_alive(child: Child) -> bool:
    """Whether the child or anything it started in its process group still runs."""
    child.popen.poll()  # reap the leader, so a finished one no longer counts
    try:
        os.killpg(child.popen.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"(killed by {signal.Signals(-code).name})"
        return f"(killed by signal {-code})"
    return f"with code {code}"


# --- environment ------------------------------------------------------------------------------


def installation_secrets(path: Path, console: Console) -> dict[str, str]:
    """The generated secrets in var/secrets.env (aristobot.env makes them once, 0600)."""
    values, created = secrets_load_or_create(path)
    if created:
        console.say(f"generated {', '.join(created)} in {path} (mode 0600)")
    return values


def var_dir_choose(dotenv: dict[str, str], wanted: str | None = None) -> Path:
    """--var-dir, else ARISTOBOT_VAR_DIR, else var/ at the repository root (relative to it)."""
    raw = wanted or os.environ.get("ARISTOBOT_VAR_DIR") or dotenv.get("ARISTOBOT_VAR_DIR") or "var"
    return (REPO / raw).resolve()


def stack_environment(
    *,
    var_dir: Path,
    dotenv: dict[str, str],
    generated: dict[str, str],
    console: Console,
    receiver_port: int = RECEIVER_PORT,
) -> dict[str, str]:
    """The environment of every process: the caller's, plus what the stack needs to run alone.

    A variable set in the environment or in .env wins over the generated default, so that
    `.env` keeps the meaning settings.py gives it.
    """
    env = dict(os.environ)
    env.setdefault("DEBUG", dotenv.get("DEBUG", "1"))
    env.setdefault("LOG_FORMAT", "plain")  # lines are prefixed with the process name; JSON is for production
    if receiver_port != RECEIVER_PORT and not (
        os.environ.get("WEBHOOK_PUBLIC_URL") or dotenv.get("WEBHOOK_PUBLIC_URL")
    ):
        env["WEBHOOK_PUBLIC_URL"] = f"http://localhost:{receiver_port}"  # the URLs shown point at this receiver
    for name, value in generated.items():
        if not (os.environ.get(name) or dotenv.get(name)):
            env[name] = value
        else:
            console.say(f"{name} comes from your environment or .env, not from var/secrets.env")
    env["ARISTOBOT_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


# --- Redis ------------------------------------------------------------------------------------


def redis_command(port: int, *args: str, timeout: float = 1.0) -> bytes:
    """Send one command to Redis on 127.0.0.1 and return the raw reply ('' when it hung up)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(arg.encode())}\r\n{arg}\r\n" for arg in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload.encode())
        try:
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return False  # something listens on another address of this port
    except OSError:
        return True


def port_any_free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ports_choose(**wanted: int) -> dict[str, int]:
    """The ports asked for by name, each 0 replaced by a free port none of the others uses."""
    taken = {port for port in wanted.values() if port}
    chosen: dict[str, int] = {}
    for name, port in wanted.items():
        while not port:
            candidate = port_any_free()
            if candidate not in taken:
                port = candidate
                taken.add(port)
        chosen[name] = port
    return chosen


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def process_command_line(pid: int) -> str:
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return ""
    result = subprocess.run(  # noqa: S603 - fixed argv
        ["ps", "-p", str(pid), "-o", "command="],  # noqa: S607 - ps from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout


def redis_stop_leftover(redis_dir: Path, console: Console) -> None:
    """Stop a Redis that a previous, killed `make run` left running on our data folder."""
    pidfile = redis_dir / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    if "redis-server" not in process_command_line(pid):
        pidfile.unlink(missing_ok=True)
        return
    console.say(f"a Redis left by an earlier run is still running (pid {pid}): stopping it")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # Redis flushes its append-only file on SIGTERM
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and "redis-server" in process_command_line(pid):
        time.sleep(0.1)
    if "redis-server" in process_command_line(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def redis_start(*, supervisor: Supervisor, var_dir: Path, dotenv: dict[str, str]) -> tuple[Child, int]:
    """Start the private Redis under var/redis and wait until it answers PING."""
    console = supervisor.console
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartupError("redis-server is not installed: run `make setup` (as root it installs it)")
    redis_dir = var_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    redis_stop_leftover(redis_dir, console)

    raw_port = os.environ.get("REDIS_PORT") or dotenv.get("REDIS_PORT") or str(DEFAULT_REDIS_PORT)
    try:
        wanted = int(raw_port)
    except ValueError:
        raise StartupError(f"REDIS_PORT must be a port number, got {raw_port!r}") from None
    port = wanted
    if not port_free(wanted):
        port = port_any_free()
        console.say(f"port {wanted} is taken (another Redis?): the private Redis uses port {port} instead")

    argv = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(redis_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--loglevel", "warning",
        "--pidfile", str(redis_dir / "redis.pid"),
    ]  # fmt: skip
    child = supervisor.spawn("redis", argv, cwd=redis_dir, env=dict(os.environ))
    try:
        redis_wait(supervisor, child, port)
    except (StartupError, Stopped):
        redis_stop(supervisor, child, port)
        raise
    return child, port


def redis_wait(supervisor: Supervisor, child: Child, port: int) -> None:
    """Wait until Redis answers PING (it answers LOADING while it reads its append-only file)."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if supervisor.stop_requested.is_set():
            raise Stopped
        if child.popen.poll() is not None:
            raise StartupError(f"redis-server exited at start {describe_exit(child.popen.returncode)}")
        with contextlib.suppress(OSError):
            if redis_command(port, "PING").startswith(b"+PONG"):
                return
        time.sleep(0.1)
    raise StartupError(f"redis-server does not answer on port {port} after {READY_TIMEOUT_SECONDS:.0f} s")


def redis_stop(supervisor: Supervisor, child: Child, port: int) -> None:
    """SHUTDOWN (flushes the append-only file), then SIGTERM, then SIGKILL."""
    if child.popen.poll() is None:
        with contextlib.suppress(OSError):
            reply = redis_command(port, "SHUTDOWN", timeout=STOP_GRACE_SECONDS)
            if reply.startswith(b"-"):
                supervisor.console.say(f"Redis refused SHUTDOWN: {reply.decode(errors='replace').strip()}")
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.popen.wait(timeout=STOP_GRACE_SECONDS)
    supervisor.stop([child])


# --- the stack --------------------------------------------------------------------------------


def seed_facts(lines: Sequence[str]) -> dict[str, object]:
    """The webhook URL and example alert seed_demo printed, for --json-ready ({} when absent)."""
    facts: dict[str, object] = {}
    for line in lines:
        if match := re.match(r"^\s*Webhook URL:\s*(\S+)", line):
            facts["webhook_url"] = match.group(1)
    command = " ".join(curl_command(lines))
    if match := re.search(r"-d '(\{.*?\})'", command):
        with contextlib.suppress(ValueError):
            facts["demo_alert"] = json.loads(match.group(1))
    return facts


def curl_command(lines: Sequence[str]) -> list[str]:
    """The curl command seed_demo printed (with its continuation lines), to repeat at the end."""
    for index, line in enumerate(lines):
        if re.match(r"^\s*(\$\s*)?curl\s", line):
            command = [line.strip()]
            while command[-1].endswith("\\") and index + len(command) < len(lines):
                command.append(lines[index + len(command)].strip())
            return command
    return []


def services_select(all_services: Sequence[Service], only: str | None) -> list[Service]:
    by_name = {service.name: service for service in all_services}
    if only is None:
        return [s for s in all_services if s.name != "heartbeat" or command_exists("run_heartbeat")]
    names = [name.strip() for name in only.split(",") if name.strip()]
    if "engine" in names:  # `engine` names every engine process
        names += [name for name in by_name if re.fullmatch(r"engine\d+", name)]
    unknown = [name for name in names if name not in by_name and name != "engine"]
    if unknown or not names:
        known = ", ".join(dict.fromkeys(re.sub(r"\d+$", "", name) for name in by_name))
        raise StartupError(f"--only takes a comma-separated list of {known}; got {only!r}")
    return [service for service in all_services if service.name in names]


def engines_choose(requested: int | None, dotenv: dict[str, str]) -> int:
    """--engines, else ENGINE_PROCESSES, else one engine per core up to two."""
    if requested is not None:
        return requested
    raw = os.environ.get("ENGINE_PROCESSES") or dotenv.get("ENGINE_PROCESSES")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise StartupError(f"ENGINE_PROCESSES must be a whole number of 1 or more, got {raw!r}")
        return int(raw)
    return min(2, os.cpu_count() or 1)


def services_check(selected: Sequence[Service]) -> None:
    """Fail before starting anything when a command is missing or a port is taken."""
    missing = [s for s in selected if s.command and not command_exists(s.command)]
    if missing:
        names = ", ".join(f"{s.name} (manage.py {s.command})" for s in missing)
        raise StartupError(
            f"not written yet: {names}; start the others with --only, e.g. "
            f"--only {','.join(s.name for s in selected if s not in missing) or 'web'}"
        )
    for service in selected:
        if service.port is not None and not port_free(service.port):
            raise StartupError(
                f"port {service.port} for {service.name} is already in use (another `make run`?): stop that first"
            )


def wait_ready(supervisor: Supervisor, children: Sequence[Child], ports: Sequence[int]) -> int | None:
    """Wait until the given ports answer (at most 30 s): the banner then comes after start-up noise."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    return supervisor.watch(
        children, until=lambda: time.monotonic() > deadline or all(port_open(port) for port in ports)
    )


def banner(
    console: Console,
    *,
    selected: Sequence[Service],
    ports: dict[str, int],
    redis_text: str,
    var_dir: Path,
    env: dict[str, str],
    curl: list[str],
) -> None:
    names = {service.name for service in selected}
    lines = ["", "Aristobot is running:"]
    if "web" in names:
        lines += [
            f"  dashboard / API   http://127.0.0.1:{ports['web']}",
            f"  admin             http://127.0.0.1:{ports['web']}/admin/",
            "  login             demo / demo (made by seed_demo)",
        ]
    if "receiver" in names:
        lines += [
            f"  webhook receiver  http://127.0.0.1:{ports['receiver']}/webhook",
            f"  health            http://127.0.0.1:{ports['receiver']}/health",
        ]
    database = env.get("DATABASE_URL") or f"SQLite {var_dir / 'aristobot.sqlite3'}"
    lines += [
        f"  Redis             {redis_text}",
        f"  database          {database}",
        f"  processes         {', '.join(sorted(names, key=[s.name for s in selected].index))}",
    ]
    if curl:
        lines += ["", "Send a test alert:", *(f"  {line}" for line in curl)]
    lines += ["", "Ctrl-C stops everything.", ""]
    console.say("\n".join(lines))


def ready_line(
    *, ports: dict[str, int], selected: Sequence[Service], env: dict[str, str], var_dir: Path, seed: dict[str, object]
) -> str:
    """The one JSON line --json-ready prints once every port answers: what a test needs to know."""
    names = {service.name for service in selected}
    facts: dict[str, object] = {
        "ready": True,
        "pid": os.getpid(),
        "web_url": f"http://127.0.0.1:{ports['web']}" if "web" in names else None,
        "receiver_url": f"http://127.0.0.1:{ports['receiver']}" if "receiver" in names else None,
        "redis_url": env["REDIS_URL"],
        "database_url": env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'aristobot.sqlite3'}",
        "var_dir": str(var_dir),
        "processes": [service.name for service in selected],
        **seed,
    }
    return json.dumps(facts)


def port_arg(raw: str) -> int:
    """A TCP port for --web-port / --receiver-port: 0 picks a free one."""
    try:
        port = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {raw!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-seed", action="store_true", help="do not run manage.py seed_demo")
    parser.add_argument(
        "--only", metavar="NAMES", help="start only these processes, e.g. web,receiver (Redis always starts)"
    )
    parser.add_argument("--web-port", type=port_arg, default=WEB_PORT, help="web port (default 8000; 0: any free)")
    parser.add_argument(
        "--receiver-port", type=port_arg, default=RECEIVER_PORT, help="receiver port (default 8888; 0: any free)"
    )
    parser.add_argument(
        "--engines",
        type=int,
        metavar="N",
        help="engine processes sharing the alerts (default: ENGINE_PROCESSES, else 2 on 2+ cores)",
    )
    parser.add_argument("--var-dir", metavar="DIR", help="data folder (default var/ or $ARISTOBOT_VAR_DIR)")
    parser.add_argument("--redis-url", metavar="URL", help="use this Redis instead of starting the private one")
    parser.add_argument(
        "--json-ready", action="store_true", help="once ready, print one JSON line of URLs instead of the banner"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    python = sys.executable
    ports = ports_choose(web=args.web_port, receiver=args.receiver_port)
    dotenv = dotenv_read(REPO / ".env")
    try:
        engines = engines_choose(args.engines, dotenv)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    all_services = stack_services(python, web_port=ports["web"], receiver_port=ports["receiver"], engines=engines)
    console = Console([SUPERVISOR, "redis", "migrate", "seed", *(s.name for s in all_services)])
    supervisor = Supervisor(console)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.request_stop)

    try:
        selected = services_select(all_services, args.only)
        services_check(selected)
    except StartupError as exc:
        console.say(f"error: {exc}")
        return 1

    var_dir = var_dir_choose(dotenv, args.var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    lock_handle = (var_dir / "run.lock").open("a+")
    try:
        fcntl.flock(lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        console.say(f"error: another `make run` is already running on {var_dir}: stop it first")
        return 1

    generated = installation_secrets(var_dir / "secrets.env", console)
    env = stack_environment(
        var_dir=var_dir, dotenv=dotenv, generated=generated, console=console, receiver_port=ports["receiver"]
    )

    redis: tuple[Child, int] | None = None
    running: list[Child] = []
    code: int | None = 1
    try:
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
            redis_text = f"{args.redis_url} (--redis-url: not started here)"
        else:
            redis = redis_start(supervisor=supervisor, var_dir=var_dir, dotenv=dotenv)
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis[1]}/0"
            redis_text = f"{env['REDIS_URL']} (data in {var_dir / 'redis'})"
            configured = os.environ.get("REDIS_URL") or dotenv.get("REDIS_URL")
            if configured and configured != env["REDIS_URL"]:
                console.say(f"REDIS_URL={configured} is ignored: `make run` uses its private Redis")

        migrate = supervisor.run_once("migrate", [python, "manage.py", "migrate", "--noinput"], cwd=BACKEND, env=env)
        if migrate.popen.returncode != 0:
            raise StartupError(f"manage.py migrate failed {describe_exit(migrate.popen.returncode)}")

        curl: list[str] = []
        seed_output: list[str] = []
        if args.no_seed:
            console.say("--no-seed: demo data not (re)created")
        elif not command_exists("seed_demo"):
            console.say("manage.py seed_demo is not written yet: no demo data")
        else:
            seed = supervisor.run_once("seed", [python, "manage.py", "seed_demo"], cwd=BACKEND, env=env)
            if seed.popen.returncode != 0:
                raise StartupError(f"manage.py seed_demo failed {describe_exit(seed.popen.returncode)}")
            curl = curl_command(seed.output)
            seed_output = seed.output

        for service in selected:
            running.append(supervisor.spawn(service.name, service.argv, cwd=BACKEND, env=env))
        watched = [*running, *([redis[0]] if redis else [])]
        served = [service.port for service in selected if service.port is not None]
        code = wait_ready(supervisor, watched, served)
        if code is None and args.json_ready:
            if closed := [service.name for service in selected if service.port and not port_open(service.port)]:
                raise StartupError(f"{', '.join(closed)} not listening after {READY_TIMEOUT_SECONDS:.0f} s")
            line = ready_line(ports=ports, selected=selected, env=env, var_dir=var_dir, seed=seed_facts(seed_output))
            with console.lock:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            code = supervisor.watch(watched)
        elif code is None:
            banner(console, selected=selected, ports=ports, redis_text=redis_text, var_dir=var_dir, env=env, curl=curl)
            code = supervisor.watch(watched)
    except StartupError as exc:
        console.say(f"error: {exc}")
        code = 1
    except Stopped:
        code = 0
    finally:
        if alive := [child for child in running if child.popen.poll() is None]:
            console.say("stopping " + ", ".join(child.name for child in alive))
        supervisor.stop(running)
        if redis is not None:
            console.say("stopping redis")
            redis_stop(supervisor, *redis)
        lock_handle.close()
    console.say("all stopped")
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
