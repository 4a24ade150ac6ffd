"""What the engine does with each heartbeat candle: feed the paper exchange, mark open
positions to market, guard engine-protected positions, and record missed alerts (MISS).

The candle's close time is the market clock: MISS detection never reads the system clock.
A candle reads only the open positions on its symbol and the alert streams with a bar due
(`misses.py`): its cost never grows with the history of alerts or closed positions.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from apps.core.gateway_client import GatewayClient
from apps.core.heartbeat.status import heartbeat_last
from apps.core.streams import Candle
from apps.webhooks.engine.guard import positions_guard
from apps.webhooks.engine.misses import Owned, misses_record
from apps.webhooks.models import PositionStatus, WebhookState
from apps.webhooks.push.announce import announce
from apps.webhooks.push.events import Change, PushEvent, PushKind
from trading.markets import symbol_key
from trading.positions import Position, position_unrealized_pnl

logger = logging.getLogger("aristobot.engine")

CANDLE_LENGTH = timedelta(minutes=1)
STORED_PLACES = Decimal("0.000000000001")


def candle_clock(candle: Candle) -> datetime:
    """The market clock a candle sets: its close time."""
    return datetime.fromisoformat(candle.time) + CANDLE_LENGTH


def paper_prices_from(candle: Candle) -> bool:
    """Whether the paper exchange takes this candle's prices: the simulated and replayed feeds,
    and the exchange named by HEARTBEAT_EXCHANGE."""
    return candle.exchange in ("sim", "replay", settings.HEARTBEAT_EXCHANGE)


def candle_handle(
    candle: Candle, gateway: GatewayClient, *, owned: Owned | None = None, feed_paper: bool = True
) -> None:
    """Everything one closed candle means for the engine; safe to run twice for the same candle.

    A price acts on its own market only: a live broker's positions are marked and guarded by
    candles of its own exchange, paper brokers' by the paper exchange's price feed. With
    `owned`, only the positions and alert streams of this engine's partitions; `feed_paper`
    is given to one engine only, so the paper exchange hears each price once.
    """
    paper = paper_prices_from(candle)
    if paper and feed_paper:
        gateway.price_update(symbol=candle.symbol, last=candle.close, low=candle.low, high=candle.high)
    positions_mark(symbol=candle.symbol, price=candle.close, exchange=candle.exchange, paper=paper, owned=owned)
    positions_guard(
        gateway,
        symbol=candle.symbol,
        low=candle.low,
        high=candle.high,
        exchange=candle.exchange,
        paper=paper,
        owned=owned,
    )
    misses_record(symbol=candle.symbol, clock=candle_clock(candle), owned=owned)


def positions_mark(
    *, symbol: str, price: Decimal, exchange: str | None = None, paper: bool = True, owned: Owned | None = None
) -> int:
    """Set current price and unrealised P&L of the open positions on `symbol`: one read of the
    open positions (an index: closed ones are never read) and one batch of updates.

    With `exchange`, only the live positions of brokers on that exchange (and the paper ones,
    whatever their broker, when `paper`: they trade at the paper feed's prices).
    """
    key = symbol_key(symbol)
    candidates = WebhookState.objects.filter(status=PositionStatus.OPEN, symbol__icontains=_base_hint(symbol))
    if exchange is not None:
        venues = Q(paper=False, broker__exchange=exchange) | (Q(paper=True) if paper else Q(pk__in=[]))
        candidates = candidates.filter(venues)
    rows = candidates.values_list("pk", "user_id", "symbol", "quantity", "entry_price", "entry_fees")
    marked: list[tuple[int, Any]] = []
    changed: list[Change] = []
    field = WebhookState._meta.get_field("unrealized_pnl")
    for pk, user_id, position_symbol, quantity, entry_price, entry_fees in rows:
        if symbol_key(position_symbol) != key or (owned is not None and not owned(user_id, position_symbol)):
            continue
        pnl = position_unrealized_pnl(Position(quantity, entry_price, entry_fees), price=price).quantize(STORED_PLACES)
        marked.append((pk, field.get_db_prep_save(pnl, connection)))
        changed.append(Change(PushKind.POSITION, pk, user_id, PushEvent.UPDATED))
    _marks_write(marked, price=field.get_db_prep_save(price, connection))
    announce(changed)  # a raw update fires no signal; coalesced per flush
    return len(marked)


def _marks_write(marked: list[tuple[int, Any]], *, price: Any) -> None:
    """Write the price and each position's P&L: one statement per 500 positions (SQLite and
    PostgreSQL both update from a list of values), one commit; only these two fields, so a fill
    applied meanwhile keeps its quantity."""
    table = connection.ops.quote_name(WebhookState._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(marked), 500):
            chunk = marked[start : start + 500]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"WITH marks (id, pnl) AS (VALUES {values}) "  # noqa: S608 - no value in the text
                f"UPDATE {table} SET current_price = %s, unrealized_pnl = marks.pnl "
                f"FROM marks WHERE {table}.id = marks.id",
                [value for row in chunk for value in row] + [price],
            )


def _base_hint(symbol: str) -> str:
    """A substring every spelling of the symbol contains (`BTC` for BTC/USDT), to narrow queries."""
    base = symbol.split(":")[-1] if "/" not in symbol.split(":")[0] else symbol
    return base.split("/")[0] if "/" in base else ""


class StalePrices:
    """Warns when the heartbeat's last candle for a symbol with open positions is too old (throttled)."""

    def __init__(
        self, client: redis.Redis, *, max_age_seconds: float = 180, check_every: float = 60, repeat_every: float = 600
    ) -> None:
        self.redis = client
        self.max_age_seconds = max_age_seconds
        self.check_every = check_every
        self.repeat_every = repeat_every
        self._last_check = 0.0
        self._warned: dict[str, float] = {}

    def check(self, *, now: float | None = None) -> list[str]:
        """The symbols whose prices are stale; logs each at most once per `repeat_every`."""
        now = time.time() if now is None else now
        if now - self._last_check < self.check_every:
            return []
        self._last_check = now
        last = {symbol_key(symbol): candle for symbol, candle in heartbeat_last(self.redis).items()}
        symbols = set(WebhookState.objects.filter(status=PositionStatus.OPEN).values_list("symbol", flat=True))
        stale = []
        for symbol in sorted(symbols):
            candle = last.get(symbol_key(symbol))
            age = None if candle is None else candle.age_seconds(now)
            if age is not None and age <= self.max_age_seconds:
                continue
            stale.append(symbol)
            if now - self._warned.get(symbol, 0.0) >= self.repeat_every:
                self._warned[symbol] = now
                said = "no heartbeat candle yet" if age is None else f"last heartbeat candle {age:.0f} s ago"
                logger.warning("prices of %s are stale (%s): is run_heartbeat running?", symbol, said)
        return stale


__all__ = ["Owned", "StalePrices", "candle_clock", "candle_handle", "misses_record", "positions_mark"]
