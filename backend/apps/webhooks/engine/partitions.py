"""Which alerts and events must run one after the other: those of one user and one symbol.

Alerts and exchange events of different partitions run concurrently; within a partition they
run in stream order, and an entry that failed holds back the later ones until it is done.
Heartbeat candles touch every user's positions on their symbol: their partitions
(`heartbeat:SYMBOL`) run after the others of the batch, one at a time (see the consumer).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from apps.core.streams import HEARTBEAT, WEBHOOK_RAW, Candle, ExchangeEvent, RawAlert
from trading.markets import symbol_key

if TYPE_CHECKING:
    from apps.webhooks.engine.recording import BrokerDirectory

HEARTBEAT_PREFIX = "heartbeat:"


class Partitioner:
    """Partition keys for stream entries; the user of an exchange event's broker comes from
    the engine's broker cache."""

    def __init__(self, brokers: BrokerDirectory) -> None:
        self.brokers = brokers

    def key(self, stream: str, fields: dict[Any, Any]) -> str:
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
            return f"{user}:{symbol_key(payload.get('Symbol'))}"
        event = ExchangeEvent.from_fields(fields)
        return f"{self._user_of(event.broker_id)}:{symbol_key(event.order.symbol)}"

    def _user_of(self, broker_id: int) -> int | None:
        broker = self.brokers.get(broker_id)
        return None if broker is None else broker.user_id
