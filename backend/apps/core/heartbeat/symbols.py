"""Which symbols the heartbeat publishes: those of open positions, resting orders and the
last day's alerts, plus the configured ones; all unified (`BTC/USDT`) through the paper
exchange's markets, so a symbol no market knows is left out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from apps.webhooks.models import Order, PositionStatus, Webhook, WebhookState
from trading.errors import TradingError
from trading.markets import symbol_resolve
from trading.orders import OrderStatus
from trading.paper.markets import PAPER_MARKETS

_PERPETUAL = re.compile(r"\.P$|PERP$")


def symbol_unified(symbol: str) -> str | None:
    """`BINANCE:BTCUSDT` → `BTC/USDT`, through the markets' ids (never by slicing the text);
    None when no market knows the symbol."""
    text = str(symbol or "").strip().upper()
    if "/" in text and ":" in text.split("/", 1)[1]:
        text = text.rsplit(":", 1)[0]  # BTC/USDT:USDT, a ccxt swap → BTC/USDT
    text = _PERPETUAL.sub("", text)
    try:
        return symbol_resolve(text, PAPER_MARKETS).symbol
    except TradingError:
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
