"""binance_urls_for rewrites ccxt's binance URL table onto a base URL, keeping every path."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from simulators.binance.ccxt_urls import binance_urls_for


async def test_every_ccxt_binance_api_url_moves_to_the_base_url_keeping_its_path() -> None:
    exchange = ccxt.binance()
    try:
        original = dict(exchange.urls["api"])
        rewritten = binance_urls_for("http://127.0.0.1:8900", exchange.urls["api"])
    finally:
        await exchange.close()
    assert exchange.urls["api"] == original  # a copy: ccxt's table is untouched
    assert rewritten.keys() == original.keys()
    assert rewritten["public"] == "http://127.0.0.1:8900/api/v3"
    assert rewritten["private"] == "http://127.0.0.1:8900/api/v3"
    assert rewritten["sapi"] == "http://127.0.0.1:8900/sapi/v1"
    assert rewritten["fapiPublic"] == "http://127.0.0.1:8900/fapi/v1"
    assert all(url.startswith("http://127.0.0.1:8900/") for url in rewritten.values())


def test_a_path_in_the_base_url_is_kept_in_front() -> None:
    urls = {"public": "https://api.binance.com/api/v3", "nested": {"v1": "https://api.binance.com/api/v1"}}
    assert binance_urls_for("https://proxy.example/binance/", urls) == {
        "public": "https://proxy.example/binance/api/v3",
        "nested": {"v1": "https://proxy.example/binance/api/v1"},
    }


def test_entries_that_are_not_urls_are_copied() -> None:
    assert binance_urls_for("http://h:1", {"a": None, "b": "not a url"}) == {"a": None, "b": "not a url"}


@pytest.mark.parametrize("base_url", ["", "127.0.0.1:8900", "ftp://h/x", "http://"])
def test_a_base_url_without_scheme_and_host_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        binance_urls_for(base_url, {"public": "https://api.binance.com/api/v3"})
