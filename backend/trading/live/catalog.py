"""The exchanges ccxt knows and the hosts each one calls, read from a list stored beside this module.

Processes other than the gateway validate a broker's exchange id and base URL without importing
ccxt (about 100 exchange classes, 0.4-0.7 s and 30-60 MB). `ccxt_exchanges.json` is made from the
installed ccxt by `python -m trading.live.catalog` (in backend/), run again after upgrading ccxt;
a test checks that it matches ccxt.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CATALOG_PATH = Path(__file__).with_name("ccxt_exchanges.json")
_URL_TABLES = ("api", "test", "demo")  # ccxt's `urls` entries a broker's requests may go to


@functools.cache
def _catalog() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return loaded


def exchange_ids() -> frozenset[str]:
    """Every exchange id ccxt knows."""
    return frozenset(_catalog()["exchanges"])


def exchange_own_hosts(exchange_id: str) -> frozenset[str]:
    """The hosts ccxt itself uses for this exchange (its API and its testnet), lower case."""
    return frozenset(_catalog()["exchanges"].get(exchange_id, ()))


def hosts_from_urls(urls: dict[str, Any], hostname: str) -> set[str]:
    """The hosts of the https URLs in a ccxt client's `urls` tables, `{hostname}` filled in."""
    hosts: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, str) and value.startswith("https://"):
            url = value.replace("{hostname}", hostname)
            if "{" not in url:
                hosts.add((urlsplit(url).hostname or "").strip().rstrip(".").lower())

    for key in _URL_TABLES:
        collect(urls.get(key))
    hosts.discard("")
    return hosts


def catalog_from_ccxt() -> dict[str, Any]:
    """The catalog as the installed ccxt gives it (imports ccxt and builds every exchange once)."""
    import ccxt

    exchanges = {}
    for exchange_id in sorted(ccxt.exchanges):
        client = getattr(ccxt, exchange_id)()
        hostname = str(getattr(client, "hostname", "") or "")
        exchanges[exchange_id] = sorted(hosts_from_urls(client.urls, hostname))
    return {"ccxt_version": ccxt.__version__, "exchanges": exchanges}


def catalog_write(path: Path = CATALOG_PATH) -> dict[str, Any]:
    """Write the installed ccxt's catalog to `path`."""
    catalog = catalog_from_ccxt()
    path.write_text(json.dumps(catalog, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return catalog


if __name__ == "__main__":
    written = catalog_write()
    print(f"{CATALOG_PATH}: {len(written['exchanges'])} exchanges of ccxt {written['ccxt_version']}", file=sys.stderr)
