"""The browser tests' launcher: run.py's options for a second stack, and scripts/e2e_stack.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest


def test_run_replaces_port_zero_with_distinct_free_ports_and_keeps_the_others(run_py):
    ports = run_py.ports_choose(web=0, receiver=0, redis=0, fixed=8000)

    assert ports["fixed"] == 8000
    chosen = [ports["web"], ports["receiver"], ports["redis"]]
    assert len(set(chosen)) == 3 and 8000 not in chosen
    for port in chosen:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free: binding works


def test_run_starts_its_processes_on_the_ports_asked_for(run_py, tmp_path):
    procfile = run_py.parse_procfile((run_py.REPO / "Procfile").read_text()).processes
    env = run_py.stack_environment(var_dir=tmp_path, dotenv={}, ports={"web": 4001, "receiver": 4002})

    def expanded(name: str) -> str:  # as honcho runs it: through the shell, with the stack's environment
        return subprocess.run(["sh", "-c", f"echo {procfile[name]}"], env=env, capture_output=True, text=True).stdout

    assert "-p 4001 " in expanded("web")
    assert "--port 4002" in expanded("receiver")


def test_run_refuses_a_port_out_of_range(run_py, capsys):
    with pytest.raises(SystemExit):
        run_py.parse_args(["--web-port", "70000"])
    with pytest.raises(SystemExit):
        run_py.parse_args(["--receiver-port", "http"])
    assert "port" in capsys.readouterr().err


def test_run_ready_line_carries_the_urls_and_what_seed_demo_printed(run_py, tmp_path):
    seed_output = [
        "Demo user: demo / demo (id 1); paper broker 'Paper' (id 2) in Webhooks mode",
        "Webhook URL: http://127.0.0.1:4002/webhook/abt_secret",
        "Send a test alert:",
        """  curl -s -H 'Content-Type: text/plain' -d '{"Action": "BuyMarket", "UserExchangeID": 2}' http://x""",
    ]

    line = run_py.ready_line(
        names=["web", "receiver", "engine"],
        ports={"web": 4001, "receiver": 4002},
        env={"REDIS_URL": "redis://127.0.0.1:1/1", "ARISTOBOT_VAR_DIR": str(tmp_path)},
        seed=run_py.seed_facts(seed_output),
    )

    facts = json.loads(line)
    assert "\n" not in line
    assert facts["ready"] is True
    assert facts["web_url"] == "http://127.0.0.1:4001"
    assert facts["receiver_url"] == "http://127.0.0.1:4002"
    assert facts["webhook_url"] == "http://127.0.0.1:4002/webhook/abt_secret"
    assert facts["demo_alert"] == {"Action": "BuyMarket", "UserExchangeID": 2}
    assert facts["database_url"] == f"sqlite:///{tmp_path / 'aristobot.sqlite3'}"


def test_run_seed_facts_are_empty_without_seed_output(run_py):
    assert run_py.seed_facts([]) == {}
    assert "demo_alert" not in run_py.seed_facts(["  curl -d '{not json}' http://x"])


def test_run_points_the_webhook_url_at_another_receiver_port_unless_configured(run_py, tmp_path, monkeypatch):
    monkeypatch.delenv("WEBHOOK_PUBLIC_URL", raising=False)

    def environment(port: int, dotenv: dict[str, str]) -> dict[str, str]:
        return run_py.stack_environment(var_dir=tmp_path, dotenv=dotenv, ports={"web": 8000, "receiver": port})

    assert environment(4002, {})["WEBHOOK_PUBLIC_URL"] == "http://localhost:4002"
    assert "WEBHOOK_PUBLIC_URL" not in environment(8888, {})
    assert "WEBHOOK_PUBLIC_URL" not in environment(4002, {"WEBHOOK_PUBLIC_URL": "https://bot.example"})


@pytest.mark.integration
def test_run_starts_a_second_stack_says_when_ready_and_stops_it_all_on_sigterm(run_py, tmp_path):
    ports = run_py.ports_choose(web=0, receiver=0, redis=0)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_PORT": str(ports["redis"]),
        "NO_COLOR": "1",
    }
    argv = [sys.executable, str(run_py.REPO / "scripts" / "run.py"), "--only", "receiver", "--no-seed"]
    argv += ["--web-port", str(ports["web"]), "--receiver-port", str(ports["receiver"])]
    argv += ["--var-dir", str(tmp_path), "--json-ready"]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("{"):
                break
        facts = json.loads(lines[-1])
        assert facts["receiver_url"] == f"http://127.0.0.1:{ports['receiver']}"
        assert facts["processes"] == ["receiver"]
        assert "| " in lines[0]  # every other line names its process

        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0, rest

    assert "stopping redis" in rest and "all stopped" in rest
    assert not (tmp_path / "redis" / "redis.pid").exists()  # Redis stopped cleanly (SHUTDOWN)
    assert not run_py.port_open(ports["receiver"]) and not run_py.port_open(ports["redis"])  # nothing left


def test_e2e_stack_keeps_to_its_own_redis_database(e2e_stack):
    assert e2e_stack.redis_url_for_stack("redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/1"
    assert e2e_stack.redis_url_for_stack("redis://:pw@host:6390") == "redis://:pw@host:6390/1"
    assert e2e_stack.redis_url_for_stack("unix:///tmp/redis.sock") == "unix:///tmp/redis.sock"
