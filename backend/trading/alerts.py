"""TradingView alerts: the message body a trader's Pine script sends, parsed and validated.

Field names and spelling are fixed by the traders' existing scripts (DESIGN §3). A field is
looked up by its exact name first, then case-insensitively (`symbol` finds `Symbol`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from trading.errors import AlertInvalid
from trading.numbers import ID_MAX, NUMBER_MAX, NUMBER_MIN, decimal_from, decimal_text, number_shown


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

# The actions an alert may carry, in the order error messages list them.
ALERT_ACTIONS = tuple(action for action in Action if action is not Action.MISS)
_ACTIONS_TEXT = ", ".join(ALERT_ACTIONS)
_ALERT_ID_FIELDS = ("ID", "AlertID", "id")
# Below this an epoch number is taken as seconds, not milliseconds (10^11 ms is March 1973).
_EPOCH_SECONDS_BELOW = 10**11
# Bar times Aristobot can place on its clock (and store): none before 1970 or after 2200.
_BAR_TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
_BAR_TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)
_SYMBOL_MAX = 40  # the longest symbol the records hold; no market's name comes close
# PourCent is kept with 3 decimals.
_POUR_CENT_PLACES = Decimal("0.001")


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

    Accepts a UTF-8 BOM and surrounding whitespace. A bare `NaN` or `Infinity` (which Pine
    writes for `na`) is kept as the string "NaN" so the payload stays storable as JSON; a price
    field holding it is then rejected by alert_from_payload.
    Raises AlertInvalid ("body is not valid JSON: …" / "body must be a JSON object"), and nothing
    else whatever the body: numbers too long to read and nesting too deep are invalid JSON here.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AlertInvalid(f"body is not valid UTF-8 text: {error.reason} at byte {error.start}") from None
    text = body.lstrip("\ufeff").strip()
    if not text:
        raise AlertInvalid("body is empty: expected a JSON object")
    try:
        payload = json.loads(text, parse_constant=str)
    except json.JSONDecodeError as error:
        raise AlertInvalid(f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError:  # an integer of more than 4,300 digits
        raise AlertInvalid("body is not valid JSON: a number has too many digits") from None
    except RecursionError:
        raise AlertInvalid("body is not valid JSON: nested too deep") from None
    if not isinstance(payload, dict):
        raise AlertInvalid(f"body must be a JSON object, not {_json_kind(payload)}")
    return payload


def _json_kind(value: object) -> str:
    kinds: dict[type, str] = {list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


_SECRETS = {name.casefold() for name in SECRET_FIELDS}


def payload_without_secrets(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of the payload without the token at any depth, safe to store and show."""
    return {key: _without_secrets(value) for key, value in payload.items() if str(key).casefold() not in _SECRETS}


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return payload_without_secrets(value)
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


def alert_from_payload(payload: dict[str, Any]) -> Alert:
    """Validate a payload into an Alert; AlertInvalid names the field and the bad value."""
    if not isinstance(payload, dict):
        raise AlertInvalid(f"body must be a JSON object, not {_json_kind(payload)}")
    fields = _Fields(payload)
    action = _action(fields.get("Action"))
    symbol = fields.text("Symbol")
    if symbol is None:
        raise AlertInvalid("Symbol is missing")
    if len(symbol) > _SYMBOL_MAX:
        raise AlertInvalid(f"Symbol is too long ({len(symbol)} characters, at most {_SYMBOL_MAX}): {symbol[:40]!r}…")
    pour_cent = fields.number("PourCent")
    if pour_cent is None:
        pour_cent = Decimal(100)
    elif not 0 < pour_cent <= 100:
        raise AlertInvalid(f"PourCent must be more than 0 and at most 100, got {number_shown(pour_cent)}")
    elif pour_cent < _POUR_CENT_PLACES:
        raise AlertInvalid(f"PourCent must be at least {_POUR_CENT_PLACES}, got {number_shown(pour_cent)}")
    else:
        pour_cent = pour_cent.quantize(_POUR_CENT_PLACES)
    alert = Alert(
        action=action,
        symbol=symbol,
        exchange=fields.text("Exchange"),
        interval=fields.text("Interval"),
        bar_time=_bar_time(fields.get("BarTime")),
        prix=fields.price("Prix"),
        prix_sl=fields.price("PrixSL"),
        prix_tp=fields.price("PrixTP"),
        pour_cent=pour_cent,
        close=fields.price("Close"),
        user_id=fields.identifier("UserID"),
        broker_id=fields.identifier("UserExchangeID"),
        alert_id=fields.first_text(_ALERT_ID_FIELDS),
        payload=payload_without_secrets(payload),
    )
    _check_action_needs(alert)
    return alert


class _Fields:
    """Reads a payload's fields by exact name, then case-insensitively; null and "" count as absent."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload
        self._folded = {str(key).casefold(): key for key in reversed(list(payload))}

    def get(self, name: str) -> Any:
        key = name if name in self._payload else self._folded.get(name.casefold())
        value = self._payload.get(key) if key is not None else None
        return None if isinstance(value, str) and not value.strip() else value

    def text(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, dict | list | bool) or not isinstance(value, str | int | float):
            raise AlertInvalid(f"{name} must be text, got {_shown(value)}")
        try:
            return str(value).strip()
        except ValueError:  # an int beyond 4,300 digits
            raise AlertInvalid(f"{name} must be text, got a number of more than 4,300 digits") from None

    def first_text(self, names: tuple[str, ...]) -> str | None:
        return next((text for text in map(self.text, names) if text is not None), None)

    def number(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        number = decimal_from(value)
        if number is None:
            hint = " (a TradingView placeholder was not replaced)" if "{{" in str(value) else ""
            raise AlertInvalid(f"{name} is not a number: {_shown(value)}{hint}")
        return number

    def price(self, name: str) -> Decimal | None:
        """A positive price the records and an exchange can hold, rounded to 12 decimals (Pine
        prints floats like 0.30000000000000004)."""
        number = self.number(name)
        if number is None:
            return None
        if number <= 0:
            raise AlertInvalid(f"{name} must be more than 0, got {number_shown(number)}")
        if number > NUMBER_MAX:
            raise AlertInvalid(f"{name} {number_shown(number)} is too large: at most {decimal_text(NUMBER_MAX)}")
        if number < NUMBER_MIN:
            raise AlertInvalid(f"{name} {number_shown(number)} is too small: at least {decimal_text(NUMBER_MIN)}")
        exponent = number.as_tuple().exponent
        return number.quantize(NUMBER_MIN) if isinstance(exponent, int) and exponent < -12 else number

    def identifier(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        number = decimal_from(value)
        if number is None or number != number.to_integral_value() or not 0 < number <= ID_MAX:
            raise AlertInvalid(f"{name} must be a positive whole number, got {_shown(value)}")
        return int(number)


def _shown(value: object) -> str:
    """A bad value as the trader wrote it, quoted when it was text: '{{close}}', NaN."""
    if isinstance(value, str):
        return repr(value[:60]) + ("…" if len(value) > 60 else "")
    try:
        return json.dumps(value, default=str)[:60]
    except (ValueError, RecursionError):  # an int beyond 4,300 digits, a structure nested too deep
        return f"a {type(value).__name__}"


def _action(value: object) -> Action:
    if value is None:
        raise AlertInvalid(f"Action is missing; valid actions: {_ACTIONS_TEXT}")
    written = str(value).strip() if isinstance(value, str) else _shown(value)
    if written.casefold() == Action.MISS.casefold():
        raise AlertInvalid(
            f"Action MISS is written by Aristobot, never sent by an alert; valid actions: {_ACTIONS_TEXT}"
        )
    for action in ALERT_ACTIONS:
        if written.casefold() == action.value.casefold():
            return action
    raise AlertInvalid(f"Action {written[:40]!r} is not valid; valid actions: {_ACTIONS_TEXT}")


def _bar_time(value: object) -> datetime | None:
    """ISO 8601 (naive means UTC) or an epoch number in milliseconds (seconds when too small for ms)."""
    if value is None:
        return None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        number = decimal_from(value)
        if number is not None:
            try:
                seconds = number if abs(number) < _EPOCH_SECONDS_BELOW else number / 1000
                return _bar_time_bounded(datetime.fromtimestamp(float(seconds), tz=UTC), value)
            except (ArithmeticError, OSError, ValueError):  # decimal.Overflow, OverflowError
                raise AlertInvalid(f"BarTime is not a valid epoch time: {_shown(value)}") from None
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
                moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
                moment = moment.astimezone(UTC)
            except (ValueError, OverflowError):
                pass
            else:
                return _bar_time_bounded(moment, value)
    raise AlertInvalid(f"BarTime is not an ISO 8601 time: {_shown(value)}")


def _bar_time_bounded(moment: datetime, value: object) -> datetime:
    if not _BAR_TIME_MIN <= moment < _BAR_TIME_MAX:
        raise AlertInvalid(f"BarTime {_shown(value)} is not between 1970 and 2200")
    return moment


def _check_action_needs(alert: Alert) -> None:
    """The fields an action cannot do without, and protection prices on the right side of a long."""
    if alert.action in {Action.BUY_LIMIT, Action.SELL_LIMIT} and alert.prix is None:
        raise AlertInvalid(f"{alert.action} needs Prix, the limit price")
    if alert.action is Action.MAJ and alert.prix_sl is None and alert.prix_tp is None:
        raise AlertInvalid("MAJ needs PrixSL or PrixTP")
    if alert.action.is_buy or alert.action is Action.MAJ:
        _check_long_protection(sl=alert.prix_sl, tp=alert.prix_tp, price=alert.reference_price)


def _check_long_protection(*, sl: Decimal | None, tp: Decimal | None, price: Decimal | None) -> None:
    if sl is not None and price is not None and sl >= price:
        where = "above" if sl > price else "at"
        raise AlertInvalid(f"stop-loss {decimal_text(sl)} is {where} the price {decimal_text(price)} of a long")
    if tp is not None and price is not None and tp <= price:
        where = "below" if tp < price else "at"
        raise AlertInvalid(f"take-profit {decimal_text(tp)} is {where} the price {decimal_text(price)} of a long")
    if sl is not None and tp is not None and sl >= tp:
        raise AlertInvalid(f"stop-loss {decimal_text(sl)} is not below the take-profit {decimal_text(tp)}")


def alert_parse(body: str | bytes) -> Alert:
    """payload_parse then alert_from_payload."""
    return alert_from_payload(payload_parse(body))


_INTERVAL = re.compile(r"(?P<count>\d+)?(?P<unit>[SsmHhDdWwM]?)")
_INTERVAL_MAX = timedelta(days=366)
_UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def interval_parse(raw: str) -> timedelta:
    """TradingView `timeframe.period` (`1`, `5`, `60`, `240`, `D`, `1D`, `W`, `30S`) or
    `5m`, `1h`, `4h`, `1d`, `1w` as a duration; AlertInvalid for anything else.

    A bare number counts minutes. Case matters only for `m` (minutes) against `M` (months):
    months have no fixed length, so `M`, `1M`, `3M` raise AlertInvalid ("monthly intervals are
    not supported for MISS detection") rather than guess 30 days and report false MISSes.
    """
    written = str(raw).strip()
    match = _INTERVAL.fullmatch(written)
    if not written or match is None:
        raise AlertInvalid(f"Interval {written[:20]!r} is not a TradingView interval (1, 5, 60, 240, D, W, 30S, 1h …)")
    unit = match["unit"]
    if unit == "M":
        raise AlertInvalid("monthly intervals are not supported for MISS detection")
    digits = match["count"]
    count = 1 if digits is None else int(digits) if len(digits) <= 9 else 0  # 10 digits: past a year anyway
    each = timedelta(weeks=1) if unit.lower() == "w" else _UNITS[unit.lower() or "m"]
    if not 0 < count <= _INTERVAL_MAX / each:
        raise AlertInvalid(f"Interval {written[:20]!r} must be longer than zero and at most a year")
    return count * each


__all__ = [
    "ALERT_ACTIONS",
    "Action",
    "Alert",
    "AlertInvalid",
    "alert_from_payload",
    "alert_parse",
    "interval_parse",
    "payload_parse",
    "payload_without_secrets",
]
