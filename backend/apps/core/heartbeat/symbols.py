"""Which symbols the heartbeat publishes: those of open positions, resting orders and the
last day's alerts, plus the configured ones; all unified (`BTC/USDT`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from apps.webhooks.models import Order, PositionStatus, Webhook, WebhookState
from trading.orders import OrderStatus

# Quote currencies recognised at the end of a TradingView symbol, longest first.
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "TRY", "BTC", "ETH", "BNB")
_PERPETUAL = re.compile(r"\.P$|PERP$")


def symbol_unified(symbol: str) -> str | None:
    """`BINANCE:BTCUSDT` → `BTC/USDT`; `ETH/USDT` stays; None when the quote is not recognised."""
    text = str(symbol or "").strip().upper()
    if "/" in text:
        if ":" in text and text.index(":") < text.index("/"):  # an exchange prefix
            text = text.split(":", 1)[1]
        return text.split(":")[0]  # BTC/USDT:USDT (a ccxt swap) → BTC/USDT
    text = _PERPETUAL.sub("", text.split(":")[-1])
    text = re.sub(r"[^A-Z0-9]", "", text)
    for quote in QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return f"{text[: -len(quote)]}/{quote}"
    return None


def symbols_in_use(extra: Iterable[str] = (), *, since: timedelta = timedelta(days=1)) -> list[str]:
    """Unified symbols that matter now, `extra` first, each once."""
    names: list[str] = list(extra)
    names += WebhookState.objects.filter(status=PositionStatus.OPEN).values_list("symbol", flat=True)
    names += Order.objects.filter(status__in=[OrderStatus.OPEN, OrderStatus.SUBMITTING]).values_list(
        "symbol", flat=True
    )
    names += (
        Webhook.objects.filter(received_at__gte=timezone.now() - since)
        .exclude(action="MISS")
        .exclude(symbol="")
        .values_list("symbol", flat=True)
        .distinct()
    )
    result: list[str] = []
    for name in names:
        unified = symbol_unified(name)
        if unified and unified not in result:
            result.append(unified)
    return result
