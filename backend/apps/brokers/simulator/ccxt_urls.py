"""Point ccxt's `binance` at another address (the simulator, a proxy) and the options it needs there.

The adapter does:

    exchange = ccxt.async_support.binance({"apiKey": ..., "secret": ..., "options": BINANCE_SPOT_OPTIONS})
    exchange.urls["api"] = binance_urls_for(broker.api_base_url, exchange.urls["api"])

This module does not import ccxt: it only rewrites the URL table ccxt hands it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# ccxt 4.5 binance options for a spot-only account, checked against ccxt's binance.py:
# - fetchMarkets.types: only GET /api/v3/exchangeInfo (no fapi/dapi exchangeInfo);
# - fetchMargins False: no sapi margin/allPairs calls during load_markets;
# - fetchCurrencies False: no sapi capital/config/getall call during load_markets;
# - fetchOpenOrders.warnWithoutSymbol False: fetch_open_orders() without a symbol is allowed.
BINANCE_SPOT_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
    "fetchMargins": False,
    "fetchCurrencies": False,
    "fetchOpenOrders": {"warnWithoutSymbol": False},
}


def binance_urls_for(base_url: str, urls: dict[str, Any]) -> dict[str, Any]:
    """A copy of ccxt's `urls['api']` with every entry on `base_url`, keeping its path.

    'https://api.binance.com/api/v3' becomes 'http://127.0.0.1:8900/api/v3'; a path in
    `base_url` is kept in front ('http://proxy/binance' gives 'http://proxy/binance/api/v3').
    Nested tables are rewritten the same way; entries that are not URLs are copied unchanged.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the API base URL must look like http://host:port, not {base_url!r}")
    root = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return {name: _rewrite(root, entry) for name, entry in urls.items()}


def _rewrite(root: str, entry: Any) -> Any:
    if isinstance(entry, dict):
        return {name: _rewrite(root, value) for name, value in entry.items()}
    if isinstance(entry, str) and urlsplit(entry).scheme in ("http", "https"):
        path = urlsplit(entry).path
        return f"{root}{path}"
    return entry
