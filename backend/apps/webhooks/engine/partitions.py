"""Which alerts and events must run one after the other: those of one user and one market.

Alerts and exchange events of different partitions run concurrently; within a partition they
run in stream order, and an entry that failed holds back the later ones until it is done.
Heartbeat candles touch every user's positions on their symbol: their partitions
(`heartbeat:SYMBOL`) run after the others of the batch, one at a time (see the consumer).

An alert names its symbol as TradingView writes it (`XBTUSDT` on Kraken), a fill and a position
by the market it resolved to (`BTC/USDT`): an alert's partition is its resolved market, through
the markets the engine has cached for its broker (no gateway call here), else, until they are
known, its written symbol. Where the two spellings still differ (markets not loaded yet), an
alert and its position's fill may run on two threads: the market lock (`market_lock`) makes them
take turns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from apps.core.streams import HEARTBEAT, WEBHOOK_RAW, Candle, ExchangeEvent, RawAlert
from trading.errors import AlertInvalid
from trading.markets import Market, symbol_key, symbol_resolve
from trading.numbers import id_from

if TYPE_CHECKING:
    from apps.brokers.models import Broker
    from apps.webhooks.engine.recording import BrokerDirectory

HEARTBEAT_PREFIX = "heartbeat:"
MarketsOf = Callable[["Broker"], Mapping[str, Market] | None]  # cached markets only
_RESOLVED_KEEP = 10_000


class Partitioner:
    """Partition keys for stream entries; brokers and users come from the engine's broker
    cache, markets from `markets_of` (what the engine's gateway client has cached)."""

    def __init__(self, brokers: BrokerDirectory, markets_of: MarketsOf | None = None) -> None:
        self.brokers = brokers
        self.markets_of = markets_of
        # id of a markets map → the map (kept, so its id is not reused) and written symbol → key
        self._resolved: dict[int, tuple[Mapping[str, Market], dict[str, str]]] = {}

    def key(self, stream: str, fields: dict[Any, Any]) -> str:
        """The entry's partition: `7:BTCUSDT` for a user's market, `heartbeat:BTCUSDT` for candles."""
        if stream == HEARTBEAT:
            return HEARTBEAT_PREFIX + symbol_key(Candle.from_fields(fields).symbol)
        if stream == WEBHOOK_RAW:
            raw = RawAlert.from_fields(fields)
            try:
                payload = json.loads(raw.body)
            except ValueError:
                payload = {}
            if not isinstance(payload, dict):
                payload = {}
            user = raw.user_id if raw.user_id is not None else payload.get("UserID")
            return f"{user}:{self._alert_symbol(user, payload)}"
        event = ExchangeEvent.from_fields(fields)
        return f"{self._user_of(event.broker_id)}:{symbol_key(event.order.symbol)}"

    def _alert_symbol(self, user: Any, payload: dict[str, Any]) -> str:
        written = payload.get("Symbol")
        markets = self._markets(user, payload)
        if markets is None or not isinstance(written, str):
            return symbol_key(written)
        entry = self._resolved.get(id(markets))
        if entry is None or entry[0] is not markets:
            entry = self._resolved[id(markets)] = (markets, {})
        memo = entry[1]
        found = memo.get(written)
        if found is None:
            try:
                found = symbol_key(symbol_resolve(written, markets).symbol)
            except AlertInvalid:  # the alert fails when it runs: its partition matters little
                found = symbol_key(written)
            if len(memo) >= _RESOLVED_KEEP:
                memo.clear()
            memo[written] = found
        return found

    def _markets(self, user: Any, payload: dict[str, Any]) -> Mapping[str, Market] | None:
        """The cached markets of the broker the alert trades on, as recording will choose it."""
        if self.markets_of is None:
            return None
        user_id = id_from(user)
        if user_id is None:
            return None
        broker_id = id_from(payload.get("UserExchangeID"))
        broker = self.brokers.default_of(user_id) if broker_id is None else self.brokers.get(broker_id)
        if broker is None or broker.user_id != user_id:
            return None  # recorded as an error: no broker of this user
        return self.markets_of(broker)

    def _user_of(self, broker_id: int) -> int | None:
        broker = self.brokers.get(broker_id)
        return None if broker is None else broker.user_id
