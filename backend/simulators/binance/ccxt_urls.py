"""Point ccxt's `binance` at another address (the simulator, a proxy) and the options it needs there.

The adapter does:

    exchange = ccxt.async_support.binance({"apiKey": ..., "secret": ..., "options": BINANCE_SPOT_OPTIONS})
    exchange.urls["api"] = binance_urls_for(broker.api_base_url, exchange.urls["api"])

The rewriting itself is `trading.live.convert.urls_rebased`, which the adapter uses for any exchange.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from trading.live.convert import urls_rebased
from trading.live.exchange import BINANCE_SPOT_OPTIONS as _ADAPTER_OPTIONS

# The options the adapter uses, kept in one place (trading.live.exchange).
BINANCE_SPOT_OPTIONS = _ADAPTER_OPTIONS


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
    rebased: dict[str, Any] = urls_rebased(urls, root)
    return rebased
