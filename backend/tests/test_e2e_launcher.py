"""The browser tests' launcher: run.py's options for a second stack, and scripts/e2e_stack.py."""

from __future__ import annotations

import json
import socket
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


def test_run_starts_its_processes_on_the_ports_asked_for(run_py):
    services = {s.name: s for s in run_py.stack_services(sys.executable, web_port=4001, receiver_port=4002)}

    assert services["web"].port == 4001 and "4001" in services["web"].argv
    assert services["receiver"].port == 4002 and "4002" in services["receiver"].argv


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
    services = run_py.stack_services(sys.executable, web_port=4001, receiver_port=4002)

    line = run_py.ready_line(
        ports={"web": 4001, "receiver": 4002},
        selected=services,
        env={"REDIS_URL": "redis://127.0.0.1:1/1"},
        var_dir=tmp_path,
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
    assert run_py.seed_facts(["  curl -d '{not json}' http://x"]) == {}


def test_run_points_the_webhook_url_at_another_receiver_port_unless_configured(run_py, tmp_path, monkeypatch):
    console = run_py.Console(["run"])
    monkeypatch.delenv("WEBHOOK_PUBLIC_URL", raising=False)

    def environment(port: int, dotenv: dict[str, str]) -> dict[str, str]:
        return run_py.stack_environment(
            var_dir=tmp_path, dotenv=dotenv, generated={}, console=console, receiver_port=port
        )

    assert environment(4002, {})["WEBHOOK_PUBLIC_URL"] == "http://localhost:4002"
    assert "WEBHOOK_PUBLIC_URL" not in environment(8888, {})
    assert "WEBHOOK_PUBLIC_URL" not in environment(4002, {"WEBHOOK_PUBLIC_URL": "https://bot.example"})


def test_e2e_stack_keeps_to_its_own_redis_database(e2e_stack):
    assert e2e_stack.redis_url_for_stack("redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/1"
    assert e2e_stack.redis_url_for_stack("redis://:pw@host:6390") == "redis://:pw@host:6390/1"
    assert e2e_stack.redis_url_for_stack("unix:///tmp/redis.sock") == "unix:///tmp/redis.sock"
