"""docker-compose.yml and deploy/Caddyfile: what can be checked without Docker.

The file parses; every service runs a command that exists in this project with arguments its
parser accepts; every service has a health check and a restart policy; migrations run once
before the app services; every variable used is documented in .env.example.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from daphne.cli import CommandLineInterface
from django.core.management import get_commands, load_command_class
from django.urls import resolve

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
CADDYFILE = REPO / "deploy" / "Caddyfile"
ENV_EXAMPLE = REPO / ".env.example"

APP_SERVICES = ("web", "receiver", "engine", "gateway", "heartbeat")
LONG_RUNNING = (*APP_SERVICES, "postgres", "redis", "caddy")
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
CADDY_VARIABLE = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _documented() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def _argv(command: Any) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def _check_manage_py(argv: list[str]) -> None:
    """`python manage.py NAME ARGS`: NAME is one of our commands and its parser accepts ARGS."""
    assert argv[:2] == ["python", "manage.py"], argv
    name, args = argv[2], argv[3:]
    commands = get_commands()
    assert name in commands, f"manage.py {name} does not exist"
    command = load_command_class(commands[name], name)
    command.create_parser("manage.py", name).parse_args(args)  # SystemExit on an unknown option


def test_compose_file_parses_with_the_expected_services(services):
    assert set(services) == {*LONG_RUNNING, "migrate"}


def test_one_backend_image_serves_every_app_process(services):
    images = {services[name]["image"] for name in (*APP_SERVICES, "migrate")}
    builds = {services[name]["build"] for name in (*APP_SERVICES, "migrate")}

    assert len(images) == 1 and builds == {"."}
    assert (REPO / "Dockerfile").is_file()


def test_every_app_command_exists_in_the_project(services):
    for name in (*APP_SERVICES, "migrate"):
        argv = _argv(services[name]["command"])
        if argv[0] == "daphne":
            arguments = CommandLineInterface().parser.parse_args(argv[1:])
            module, _, attribute = arguments.application.partition(":")
            assert module == "aristobot.asgi"
            import aristobot.asgi

            assert callable(getattr(aristobot.asgi, attribute))
        else:
            _check_manage_py(argv)


def test_migrations_run_once_before_every_app_service(services):
    assert _argv(services["migrate"]["command"]) == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_health_check_and_restarts(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check["test"][0] == "CMD", f"{name} has no health check"
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert services[name]["restart"] == "unless-stopped", name


def test_health_checks_ask_the_processes_themselves(services):
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health/" in web
    assert resolve("/health/").url_name == "health"
    assert "http://127.0.0.1:8888/health" in " ".join(services["receiver"]["healthcheck"]["test"])
    for name in ("engine", "gateway", "heartbeat"):
        argv = services[name]["healthcheck"]["test"][1:]
        assert argv == ["python", "manage.py", "status", "--alive", name]
        _check_manage_py(argv)


def test_receiver_serves_the_health_path_the_check_asks_for():
    from apps.webhooks.receiver import ReceiverConfig, build_app

    async def no_tokens() -> dict[str, int]:
        return {}

    app = build_app(redis=None, config=ReceiverConfig(), token_loader=no_tokens)
    paths = {route.resource.canonical for route in app.router.routes() if route.resource is not None}

    assert {"/health", "/webhook", "/webhook/{token}"} <= paths


def test_secrets_come_from_env_file_and_are_required(services):
    for name in (*APP_SERVICES, "migrate"):
        assert services[name]["env_file"] == ".env"
        environment = services[name]["environment"]
        assert environment["DEBUG"] == "0" and environment["LOG_FORMAT"] == "json"
        for secret in ("DJANGO_SECRET_KEY", "ARISTOBOT_ENCRYPTION_KEY"):
            assert environment[secret].startswith("${" + secret + ":?"), "compose must refuse to start without it"


def test_redis_keeps_every_alert_on_a_volume(services):
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_postgres_15_keeps_its_data_on_a_volume(services):
    assert services["postgres"]["image"] == "postgres:15"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])


def test_only_caddy_is_published_on_80_and_443(services):
    assert {"80:80", "443:443"} <= set(services["caddy"]["ports"])
    for name in (*APP_SERVICES, "postgres", "redis"):
        assert "ports" not in services[name], f"{name} must be reached through Caddy only"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]


def test_caddy_sends_webhooks_to_the_receiver_and_the_rest_to_web():
    text = CADDYFILE.read_text()
    webhook = re.search(r"@webhook path (.+)\n\s*handle @webhook \{(.*?)\n\t\}", text, re.DOTALL)

    assert webhook is not None
    assert webhook.group(1).split() == ["/webhook", "/webhook/*"]
    assert "reverse_proxy receiver:8888" in webhook.group(2)
    assert re.search(r"handle \{\s*reverse_proxy web:8000\s*\}", text)
    assert "{$ARISTOBOT_DOMAIN} {" in text


def test_receiver_believes_forwarded_addresses_only_from_the_compose_network(compose, services):
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    trusted = services["receiver"]["environment"]["WEBHOOK_TRUSTED_PROXIES"]

    assert trusted == subnet
    default = re.search(r":-([^}]+)\}", subnet)
    assert default is not None and ipaddress.ip_network(default.group(1)).is_private


def test_every_variable_compose_and_caddy_use_is_documented():
    used = set(COMPOSE_VARIABLE.findall(COMPOSE.read_text())) | set(CADDY_VARIABLE.findall(CADDYFILE.read_text()))
    missing = used - _documented()

    assert used, "the pattern found no variable: the test would prove nothing"
    assert not missing, f"not documented in .env.example: {sorted(missing)}"
