"""TradingView alerts: the message body a trader's Pine script sends, parsed and validated.

Field names and spelling are fixed by the traders' existing scripts (DESIGN §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from trading.errors import AlertInvalid


class Action(StrEnum):
    PING = "PING"
    BUY_MARKET = "BuyMarket"
    SELL_MARKET = "SellMarket"
    BUY_LIMIT = "BuyLimit"
    SELL_LIMIT = "SellLimit"
    MAJ = "MAJ"
    MISS = "MISS"  # written by the engine, never accepted from TradingView

    @property
    def is_buy(self) -> bool:
        return self in {Action.BUY_MARKET, Action.BUY_LIMIT}

    @property
    def is_sell(self) -> bool:
        return self in {Action.SELL_MARKET, Action.SELL_LIMIT}


# Fields that identify or authenticate, never kept in a stored payload.
SECRET_FIELDS = ("Token",)


@dataclass(frozen=True)
class Alert:
    """A validated alert. Prices are positive Decimals; pour_cent is in (0, 100]."""

    action: Action
    symbol: str  # as TradingView wrote it; resolve with markets.symbol_resolve
    exchange: str | None = None
    interval: str | None = None
    bar_time: datetime | None = None
    prix: Decimal | None = None
    prix_sl: Decimal | None = None
    prix_tp: Decimal | None = None
    pour_cent: Decimal = Decimal(100)
    close: Decimal | None = None
    user_id: int | None = None
    broker_id: int | None = None  # UserExchangeID
    alert_id: str | None = None  # the alert's own id field, used for de-duplication
    payload: dict[str, Any] = field(default_factory=dict)  # the body without secret fields

    @property
    def reference_price(self) -> Decimal | None:
        """The price an alert tells us about: `Prix`, else `Close`."""
        return self.prix if self.prix is not None else self.close


def payload_parse(body: str | bytes) -> dict[str, Any]:
    """Read a body as a JSON object whatever the content type it came with.

    Raises AlertInvalid ("body is not valid JSON: …" / "body must be a JSON object").
    """
    raise NotImplementedError


def payload_without_secrets(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of the payload without the token, safe to store and show."""
    return {key: value for key, value in payload.items() if key not in SECRET_FIELDS}


def alert_from_payload(payload: dict[str, Any]) -> Alert:
    """Validate a payload into an Alert; AlertInvalid names the field and the bad value."""
    raise NotImplementedError


def alert_parse(body: str | bytes) -> Alert:
    """payload_parse then alert_from_payload."""
    return alert_from_payload(payload_parse(body))


def interval_parse(raw: str) -> timedelta:
    """TradingView `timeframe.period` (`1`, `5`, `60`, `240`, `D`, `1D`, `W`, `30S`) or
    `5m`, `1h`, `4h`, `1d`, `1w` as a duration; AlertInvalid for anything else."""
    raise NotImplementedError


__all__ = ["Action", "Alert", "AlertInvalid", "alert_from_payload", "alert_parse", "interval_parse", "payload_parse"]
