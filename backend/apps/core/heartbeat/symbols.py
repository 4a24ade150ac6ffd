"""Which symbols the heartbeat publishes: those of open positions, resting orders and the
last day's alerts, plus the configured ones; all unified (`BTC/USDT`) through the paper
exchange's markets, so a symbol no market knows is left out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from apps.brokers.models import PAPER_EXCHANGE
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


def symbols_by_exchange(
    extra: Iterable[str] = (), *, paper_prices_from: str, since: timedelta = timedelta(days=1)
) -> dict[str, list[str]]:
    """Unified symbols that matter now, per exchange in use. Paper brokers and alerts without
    a broker take their prices from `paper_prices_from`, and so do the `extra` symbols."""
    pairs: list[tuple[str | None, str]] = [(paper_prices_from, name) for name in extra]
    pairs += WebhookState.objects.filter(status=PositionStatus.OPEN).values_list("broker__exchange", "symbol")
    pairs += Order.objects.filter(status__in=[OrderStatus.OPEN, OrderStatus.SUBMITTING]).values_list(
        "broker__exchange", "symbol"
    )
    pairs += (
        Webhook.objects.filter(received_at__gte=timezone.now() - since)
        .exclude(action="MISS")
        .exclude(symbol="")
        .values_list("broker__exchange", "symbol")
        .distinct()
    )
    result: dict[str, list[str]] = {}
    for exchange, name in pairs:
        venue = paper_prices_from if exchange in (None, PAPER_EXCHANGE) else exchange
        unified = symbol_unified(name)
        if unified and unified not in result.setdefault(venue, []):
            result[venue].append(unified)
    return result
