"""Start the whole stack for the dashboard's browser tests, then stop it and leave no trace.

It runs scripts/run.py (what `make run` runs) on free ports in a temporary data folder,
with a database of its own: a fresh PostgreSQL database when DATABASE_URL points at PostgreSQL
(dropped at the end, as backend/tests/e2e does), else SQLite in the folder. Redis is the test
script's (TEST_REDIS_URL, database 1, which pytest leaves alone) when there is one, else a
private redis-server. Migrate and seed_demo run first (user demo / demo, a paper broker in
Webhooks mode, a token); once every process answers, one JSON line on stdout gives the web,
receiver and webhook URLs and seed_demo's example alert. SIGTERM or Ctrl-C stops everything;
with --stop-on-eof, so does the end of standard input, so that a test runner that dies
(even by SIGKILL) takes the stack with it.

    .venv/bin/python scripts/e2e_stack.py [--stop-on-eof]    # frontend/e2e/global-setup.ts runs it
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))  # for tests.e2e.stack
E2E_REDIS_DB = 1  # pytest flushes database 0 of TEST_REDIS_URL; the stack keeps to its own


def run_py_load() -> ModuleType:
    """scripts/run.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("aristobot_run_script", REPO / "scripts" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def redis_url_for_stack(test_redis_url: str) -> str:
    """TEST_REDIS_URL with the stack's own database number, so that pytest's data never meets it."""
    parts = urlsplit(test_redis_url)
    if parts.scheme not in ("redis", "rediss"):
        return test_redis_url
    return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


def stop_on_eof() -> None:
    """Ask for a stop (as SIGTERM would) once standard input closes: whoever started us is gone."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):  # unbuffered: no lock left held when the interpreter exits
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stop-on-eof", action="store_true", help="stop when standard input closes")
    args = parser.parse_args(argv)

    run_py = run_py_load()
    from tests.e2e.stack import Database  # backend/tests: one way to make a throwaway database

    tmp = Path(tempfile.mkdtemp(prefix="aristobot-e2e-"))
    database = None
    try:
        database = Database(tmp)
        ports = run_py.ports_choose(web=0, receiver=0, redis=0)
        os.environ["DATABASE_URL"] = database.url
        # Always ours, even when .env sets one (run.py would keep it): the URLs seed_demo prints and the
        # tests post to are this receiver's, on 127.0.0.1 like web_url (run.py's default says localhost).
        os.environ["WEBHOOK_PUBLIC_URL"] = f"http://127.0.0.1:{ports['receiver']}"
        run_argv = ["--web-port", str(ports["web"]), "--receiver-port", str(ports["receiver"])]
        run_argv += ["--var-dir", str(tmp), "--json-ready"]
        if test_redis := os.environ.get("TEST_REDIS_URL"):
            run_argv += ["--redis-url", redis_url_for_stack(test_redis)]
        else:
            os.environ["REDIS_PORT"] = str(ports["redis"])  # never 6379, which `make run` wants
        if args.stop_on_eof:
            stop_on_eof()
        return int(run_py.main(run_argv))
    finally:
        if database is not None:
            try:
                database.drop()
            except Exception as exc:  # report, then still remove the folder
                print(f"e2e_stack: could not drop the test database: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
