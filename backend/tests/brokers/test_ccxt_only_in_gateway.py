"""ccxt is the gateway's: the web process (and the engine, receiver and a simulated heartbeat)
validate exchange ids and base URLs from the stored catalog and never import it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ccxt
import ccxt.async_support
import pytest
from django.core.exceptions import ValidationError

from apps.brokers.admin import COMMON_EXCHANGES, BrokerForm
from apps.brokers.models import Broker
from trading.live.catalog import catalog_from_ccxt, exchange_ids, exchange_own_hosts

BACKEND = Path(__file__).resolve().parents[2]

# A fresh interpreter: other tests' imports would hide an import of ccxt.
_IMPORT_THE_WEB = """
import sys
import django
django.setup()
import aristobot.settings, aristobot.urls, aristobot.asgi
import apps.brokers.admin, apps.brokers.api.serializers, apps.brokers.api.views, apps.brokers.api.services
import apps.core.management.commands.run_webhook_receiver
import apps.core.management.commands.run_trading_engine
import apps.core.management.commands.run_heartbeat
from apps.brokers.admin import BrokerForm
from apps.brokers.models import Broker
Broker(name="B", exchange="binance", api_base_url="https://api.binance.com").clean()
str(BrokerForm()["exchange"])
print(sorted(name for name in sys.modules if name == "ccxt" or name.startswith("ccxt.")))
"""


def test_the_web_and_the_other_processes_never_import_ccxt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_THE_WEB],
        cwd=BACKEND,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "aristobot.settings_test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_stored_catalog_matches_the_installed_ccxt() -> None:
    """After upgrading ccxt, run `python -m trading.live.catalog` in backend/ to store its list again."""
    assert exchange_ids() == set(ccxt.exchanges) == set(ccxt.async_support.exchanges)
    stored = {exchange_id: exchange_own_hosts(exchange_id) for exchange_id in exchange_ids()}
    made = catalog_from_ccxt()
    assert made["ccxt_version"] == ccxt.__version__
    assert stored == {exchange_id: frozenset(hosts) for exchange_id, hosts in made["exchanges"].items()}


@pytest.mark.django_db
def test_a_broker_names_an_exchange_ccxt_knows_or_paper(alice) -> None:
    Broker(user=alice, name="A", exchange="kraken").clean()
    Broker(user=alice, name="B", exchange="paper").clean()
    with pytest.raises(ValidationError, match="neither 'paper' nor an exchange id ccxt knows"):
        Broker(user=alice, name="C", exchange="gateio").clean()


def test_the_admin_suggests_the_common_exchanges_first_then_every_other() -> None:
    assert set(COMMON_EXCHANGES) - {"paper"} <= exchange_ids()
    html = str(BrokerForm()["exchange"])
    assert 'list="exchange-ids"' in html and '<datalist id="exchange-ids">' in html
    suggested = [part.split('"', 1)[0] for part in html.split('<option value="')[1:]]
    assert suggested[: len(COMMON_EXCHANGES)] == list(COMMON_EXCHANGES)
    assert set(suggested) == exchange_ids() | {"paper"}
    assert len(suggested) == len(set(suggested))
