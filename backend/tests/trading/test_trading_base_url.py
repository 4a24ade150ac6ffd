"""Where a broker's base URL may point: the allowlist's forms, and the exchange's own addresses."""

from __future__ import annotations

import pytest

from trading.live.base_url import AllowedBase, allowlist_parse, base_url_refusal, exchange_own_hosts


def test_allowlist_entries_are_host_host_port_or_url_prefix() -> None:
    assert allowlist_parse(["sim.internal", " 127.0.0.1:8899 ", "https://Proxy.Example.com/binance/", "[::1]:9"]) == (
        AllowedBase(host="sim.internal"),
        AllowedBase(host="127.0.0.1", port=8899),
        AllowedBase(host="proxy.example.com", port=443, scheme="https", path="/binance"),
        AllowedBase(host="::1", port=9),
    )


@pytest.mark.parametrize(
    "entry", ["ftp://x", "host/path", "http://", "user:pw@host", "https://h/p?q=1", "127.0.0.1:notaport", "*"]
)
def test_a_bad_allowlist_entry_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host"):
        allowlist_parse([entry])


def test_exchange_own_hosts_come_from_ccxt() -> None:
    hosts = exchange_own_hosts("binance")

    assert {"api.binance.com", "testnet.binance.vision"} <= hosts
    assert exchange_own_hosts("okx") >= {"www.okx.com"}  # ccxt writes it https://{hostname}
    assert exchange_own_hosts("paper") == frozenset()


@pytest.mark.parametrize(
    ("url", "allowlist", "allowed"),
    [
        ("", [], True),
        ("https://api.binance.com", [], True),
        ("https://API.binance.com./", [], True),
        ("http://127.0.0.1:8899", [], False),
        ("http://127.0.0.1:8899", ["127.0.0.1:8899"], True),
        ("https://127.0.0.1:8899", ["http://127.0.0.1:8899"], False),
        ("http://[::1]:8899", ["[::1]"], True),
        ("http://user:pw@127.0.0.1:8899", ["127.0.0.1"], False),
        ("http://127.0.0.1:8899/?x=1", ["127.0.0.1"], False),
        ("gopher://127.0.0.1:8899", ["127.0.0.1"], False),
        ("http://127.0.0.1:99999", ["127.0.0.1"], False),
    ],
)
def test_base_url_refusal(url: str, allowlist: list[str], allowed: bool) -> None:
    refusal = base_url_refusal(url, exchange_id="binance", allowlist=allowlist_parse(allowlist))

    assert (refusal is None) is allowed, refusal


def test_the_refusal_tells_the_trader_what_the_operator_must_do() -> None:
    refusal = base_url_refusal("http://10.1.2.3:9200", exchange_id="binance", allowlist=())

    assert refusal is not None and "10.1.2.3:9200" in refusal and "EXCHANGE_BASE_URL_ALLOWLIST" in refusal


@pytest.mark.parametrize(
    "url",
    [
        "https://proxy.example.com/binance/../admin",
        "https://proxy.example.com/binance/./../admin",
        "https://proxy.example.com/binance/%2e%2e/admin",
        "https://proxy.example.com/binance/%2E%2E/admin",
        "https://proxy.example.com/binance/.%2e/admin",
        "https://proxy.example.com/binance/%252e%252e/admin",
        "https://proxy.example.com/binance/..;/admin",
        "https://proxy.example.com/binance/..",
        "https://proxy.example.com/binance/%2e",
        "https://proxy.example.com/binance/x%2f..%2fadmin",
        "https://proxy.example.com/binance/x%2F..",
        "https://proxy.example.com/binance/x%5c..%5cadmin",
        "https://proxy.example.com/binance/x\\..\\admin",
    ],
)
def test_a_path_scoped_entry_cannot_be_escaped_with_dot_segments_or_encoded_slashes(url: str) -> None:
    allowlist = allowlist_parse(["https://proxy.example.com/binance"])

    refusal = base_url_refusal(url, exchange_id="binance", allowlist=allowlist)

    assert refusal is not None and "path" in refusal


@pytest.mark.parametrize(
    "url",
    [
        "https://proxy.example.com/binance",
        "https://proxy.example.com/binance/v3/",
        "https://proxy.example.com/binance/a.b/..c",
    ],
)
def test_a_path_under_a_path_scoped_entry_is_allowed(url: str) -> None:
    allowlist = allowlist_parse(["https://proxy.example.com/binance"])

    assert base_url_refusal(url, exchange_id="binance", allowlist=allowlist) is None


@pytest.mark.parametrize("url", ["https://api.binance.com/../x", "https://api.binance.com/%2e%2e"])
def test_dot_segments_are_refused_even_on_the_exchanges_own_host(url: str) -> None:
    assert base_url_refusal(url, exchange_id="binance", allowlist=()) is not None


@pytest.mark.parametrize("entry", ["https://proxy.example.com/binance/..", "https://proxy.example.com/a%2fb"])
def test_an_allowlist_entry_with_dot_segments_or_encoded_slashes_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host"):
        allowlist_parse([entry])
