"""Which alerts and events must run one after the other: those of one user and one symbol.

Alerts and exchange events of different partitions run concurrently; within a partition they
run in stream order, and an entry that failed holds back the later ones until it is done.
Heartbeat candles touch every user's positions on their symbol: their partitions
(`heartbeat:SYMBOL`) run after the others of the batch, one at a time (see the consumer).
"""

from __future__ import annotations

import json
import re
from typing import Any

from apps.brokers.models import Broker
from apps.core.streams import HEARTBEAT, WEBHOOK_RAW, Candle, ExchangeEvent, RawAlert

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
HEARTBEAT_PREFIX = "heartbeat:"


def symbol_key(symbol: object) -> str:
    """`BINANCE:BTCUSDT`, `BTC/USDT` and `btc-usdt` all read `BTCUSDT`."""
    return _NOT_ALNUM.sub("", str(symbol or "").split(":")[-1].upper())


class Partitioner:
    """Partition keys for stream entries; remembers which user each broker belongs to."""

    def __init__(self) -> None:
        self._broker_users: dict[int, int | None] = {}

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
        if broker_id not in self._broker_users:
            self._broker_users[broker_id] = (
                Broker.objects.filter(pk=broker_id).values_list("user_id", flat=True).first()
            )
        return self._broker_users[broker_id]
