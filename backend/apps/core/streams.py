"""Stream names and message shapes: the one place that says what travels through Redis.

Every message is a frozen dataclass with `to_fields()` (a flat str→str mapping for XADD or
a reply list) and `from_fields()`; decimals travel as strings, never floats.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson

from trading.errors import (
    AuthenticationFailed,
    ConfigurationError,
    DuplicateOrder,
    ExchangeRejected,
    InsufficientFunds,
    OrderInvalid,
    OrderNotFound,
    ProtectionUnsupported,
    TemporaryError,
    TradingError,
)
from trading.markets import Market
from trading.orders import Balance, OrderSide, OrderState, OrderStatus, OrderType

WEBHOOK_RAW = "webhook_raw"  # receiver → engine: one entry per alert answered 200
WEBHOOK_DEAD = "webhook_raw_dead"  # entries that kept failing, kept for the operator
EXCHANGE_REQUESTS = "exchange_requests"  # engine/web → gateway
EXCHANGE_EVENTS = "exchange_events"  # gateway → engine: orders that changed on their own
HEARTBEAT = "heartbeat"  # heartbeat → engine: closed 1-minute candles
HEARTBEAT_LAST = "heartbeat:last"  # hash symbol → JSON {exchange, time, close, published_at}
UI_EVENTS = "ui_events"  # engine/gateway/web → web: which alerts, positions, orders changed (push/)
UI_EVENTS_MAXLEN = 10_000  # approximate cap: the push is live, nobody replays it

ENGINE_GROUP = "engine"
GATEWAY_GROUP = "gateway"
WEB_GROUP = "web"  # the web processes' forwarders share ui_events: each entry is pushed once
TOKENS_VERSION_KEY = "webhook_tokens:version"  # bumped when a token is created or revoked
BROKERS_VERSION_KEY = "brokers:version"  # bumped when a broker or a user changes (engine caches)
REPLY_KEY_PREFIX = "exchange_reply:"
# In the raw of an order state the gateway's reconciliation infers (not found on the book): the
# order row's updated_at it saw. The engine ignores the report if the row changed since.
RECONCILED_SEEN = "reconciled_seen_updated_at"
STREAM_MAXLEN = 100_000  # approximate cap of the dead-letter stream
STREAM_KEEP_SECONDS = 7 * 24 * 3600  # acknowledged entries are kept this long for the operator


def text(value: bytes | str) -> str:
    """A Redis answer as str (our clients do not decode responses: they answer bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_ms(entry_id: bytes | str) -> int:
    """The Unix time in milliseconds of a stream entry id (`<milliseconds>-<sequence>`); ValueError if malformed."""
    return int(text(entry_id).partition("-")[0])


def entry_order(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id as a sort key: (milliseconds, sequence)."""
    milliseconds, _, sequence = text(entry_id).partition("-")
    return int(milliseconds), int(sequence or 0)


def _fields_str(values: dict[str, Any]) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in values.items()}


def _decode(fields: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }


@dataclass(frozen=True)
class RawAlert:
    """An alert as the receiver made it durable. `body` never contains the token."""

    body: str
    received_at: str  # ISO 8601, UTC
    trace_id: str
    user_id: int | None  # None when authenticated by the legacy WEBHOOK_TOKEN (UserID decides)
    source_ip: str = ""
    rejected: str = ""  # why the receiver answered 4xx although the user is known

    def to_fields(self) -> dict[str, str]:
        return {
            "body": self.body,
            "received_at": self.received_at,
            "trace_id": self.trace_id,
            "user_id": "" if self.user_id is None else str(self.user_id),
            "source_ip": self.source_ip,
            "rejected": self.rejected,
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes | str, bytes | str]) -> RawAlert:
        data = _decode(fields)
        user = data.get("user_id", "")
        return cls(
            body=data.get("body", ""),
            received_at=data.get("received_at", ""),
            trace_id=data.get("trace_id", ""),
            user_id=int(user) if user.isdigit() else None,
            source_ip=data.get("source_ip", ""),
            rejected=data.get("rejected", ""),
        )


class GatewayOp(StrEnum):
    MARKETS = "markets"
    BALANCE = "balance"
    TICKER = "ticker"
    CREATE_ORDER = "create_order"
    CREATE_PROTECTION = "create_protection"
    CANCEL_ORDER = "cancel_order"
    CANCEL_ORDERS = "cancel_orders"  # several orders of one symbol in one round trip
    FETCH_ORDER = "fetch_order"
    OPEN_ORDERS = "open_orders"
    PRICE_UPDATE = "price_update"
    TEST_CONNECTION = "test_connection"


@dataclass(frozen=True)
class GatewayRequest:
    """One request to the gateway; the answer is pushed on `reply_key`."""

    request_id: str
    op: GatewayOp
    broker_id: int
    params: dict[str, Any]
    deadline_ms: int  # the gateway drops a request it reads after this: the caller gave up
    force_paper: bool = False  # the engine's --test: route to the paper exchange
    trace_id: str = ""

    @property
    def reply_key(self) -> str:
        return REPLY_KEY_PREFIX + self.request_id

    def to_fields(self) -> dict[str, str]:
        return {
            "request_id": self.request_id,
            "op": self.op.value,
            "broker_id": str(self.broker_id),
            "params": json_dumps(self.params),
            "deadline_ms": str(self.deadline_ms),
            "force_paper": "1" if self.force_paper else "",
            "trace_id": self.trace_id,
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes | str, bytes | str]) -> GatewayRequest:
        data = _decode(fields)
        return cls(
            request_id=data["request_id"],
            op=GatewayOp(data["op"]),
            broker_id=int(data["broker_id"]),
            params=json.loads(data.get("params") or "{}"),
            deadline_ms=int(data.get("deadline_ms") or 0),
            force_paper=bool(data.get("force_paper")),
            trace_id=data.get("trace_id", ""),
        )


# Error kinds on the wire, so that the engine gets back the domain error the gateway saw.
_ERROR_KINDS: dict[str, type[TradingError]] = {
    "insufficient_funds": InsufficientFunds,
    "order_not_found": OrderNotFound,
    "protection_unsupported": ProtectionUnsupported,
    "duplicate_order": DuplicateOrder,
    "authentication": AuthenticationFailed,
    "rejected": ExchangeRejected,
    "order_invalid": OrderInvalid,
    "temporary": TemporaryError,
    "configuration": ConfigurationError,
    "error": TradingError,
}


def error_kind(error: TradingError) -> str:
    for kind, cls in _ERROR_KINDS.items():
        if type(error) is cls:
            return kind
    for kind, cls in _ERROR_KINDS.items():
        if isinstance(error, cls):
            return kind
    return "error"


def error_from_kind(kind: str, message: str, retry_after: float | None = None) -> TradingError:
    """The domain error an error kind on the wire stands for."""
    cls = _ERROR_KINDS.get(kind, TradingError)
    if cls is TemporaryError:
        return TemporaryError(message, retry_after=retry_after)
    return cls(message)


@dataclass(frozen=True)
class GatewayReply:
    request_id: str
    ok: bool
    result: Any = None
    error_kind: str = ""
    error_message: str = ""
    retry_after: float | None = None

    def to_json(self) -> bytes:
        # By hand: `asdict` deep-copies the result (a markets map, an order's raw answer) on
        # every reply, which cost the gateway a third of its time in a burst. orjson (Decimals
        # as strings, as json_dumps writes them) encodes a reply several times faster.
        data = {
            "request_id": self.request_id,
            "ok": self.ok,
            "result": self.result,
            "error_kind": self.error_kind,
            "error_message": self.error_message,
            "retry_after": self.retry_after,
        }
        try:
            return orjson.dumps(data, default=_decimal_text)
        except orjson.JSONEncodeError:  # what orjson refuses (an integer beyond 64 bits, a non-str key)
            return json_dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> GatewayReply:
        return cls(**json.loads(raw))

    @classmethod
    def failure(cls, request_id: str, error: TradingError) -> GatewayReply:
        retry_after = error.retry_after if isinstance(error, TemporaryError) else None
        return cls(request_id, False, None, error_kind(error), str(error), retry_after)

    def raise_error(self) -> None:
        """Raise the domain error this reply carries, if any."""
        if self.ok:
            return
        raise error_from_kind(self.error_kind, self.error_message, self.retry_after)


@dataclass(frozen=True)
class ExchangeEvent:
    """An order of a broker that changed without being asked (fill of a resting order)."""

    broker_id: int
    order: OrderState
    paper: bool = False

    def to_fields(self) -> dict[str, str]:
        return {
            "broker_id": str(self.broker_id),
            "order": json_dumps(order_state_to_dict(self.order)),
            "paper": "1" if self.paper else "",
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes | str, bytes | str]) -> ExchangeEvent:
        data = _decode(fields)
        return cls(int(data["broker_id"]), order_state_from_dict(json.loads(data["order"])), bool(data.get("paper")))


@dataclass(frozen=True)
class Candle:
    """A closed 1-minute candle of one symbol on one exchange (the heartbeat)."""

    exchange: str
    symbol: str
    time: str  # ISO 8601 open time, UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    extra: dict[str, str] = field(default_factory=dict)

    def to_fields(self) -> dict[str, str]:
        values = asdict(self)
        values.pop("extra")
        return _fields_str(values)

    @classmethod
    def from_fields(cls, fields: dict[bytes | str, bytes | str]) -> Candle:
        d = _decode(fields)
        return cls(
            d["exchange"],
            d["symbol"],
            d["time"],
            Decimal(d["open"]),
            Decimal(d["high"]),
            Decimal(d["low"]),
            Decimal(d["close"]),
            Decimal(d.get("volume") or 0),
        )


# JSON codecs for domain values.


class _Encoder(json.JSONEncoder):
    def default(self, o: object) -> object:
        if isinstance(o, Decimal):
            return str(o)
        return super().default(o)


def _decimal_text(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    return json.dumps(value, cls=_Encoder, separators=(",", ":"))


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def order_state_to_dict(order: OrderState) -> dict[str, Any]:
    """The order's fields as a dict (by hand: `asdict` deep-copies, and this runs for every answer)."""
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "status": order.status.value,
        "amount": order.amount,
        "filled": order.filled,
        "price": order.price,
        "stop_price": order.stop_price,
        "average": order.average,
        "fee": order.fee,
        "fee_base": order.fee_base,
        "fee_currency": order.fee_currency,
        "timestamp_ms": order.timestamp_ms,
        "raw": dict(order.raw),
    }


def order_state_from_dict(data: dict[str, Any]) -> OrderState:
    return OrderState(
        id=str(data["id"]),
        client_order_id=str(data.get("client_order_id") or ""),
        symbol=data["symbol"],
        side=OrderSide(data["side"]),
        type=OrderType(data["type"]),
        status=OrderStatus(data["status"]),
        amount=Decimal(str(data["amount"])),
        filled=Decimal(str(data.get("filled") or 0)),
        price=_dec(data.get("price")),
        stop_price=_dec(data.get("stop_price")),
        average=_dec(data.get("average")),
        fee=Decimal(str(data.get("fee") or 0)),
        fee_base=Decimal(str(data.get("fee_base") or 0)),
        fee_currency=data.get("fee_currency"),
        timestamp_ms=data.get("timestamp_ms"),
        raw=data.get("raw") or {},
    )


def balance_to_dict(balance: Balance) -> dict[str, Any]:
    return {"free": balance.free, "total": balance.total}


def balance_from_dict(data: dict[str, Any]) -> Balance:
    return Balance(
        free={k: Decimal(str(v)) for k, v in data["free"].items()},
        total={k: Decimal(str(v)) for k, v in data["total"].items()},
    )


def market_to_dict(market: Market) -> dict[str, Any]:
    return asdict(market)


def market_from_dict(data: dict[str, Any]) -> Market:
    return Market(
        symbol=data["symbol"],
        id=data["id"],
        base=data["base"],
        quote=data["quote"],
        amount_step=Decimal(str(data["amount_step"])),
        price_step=Decimal(str(data["price_step"])),
        min_amount=_dec(data.get("min_amount")),
        min_cost=_dec(data.get("min_cost")),
        taker_fee=Decimal(str(data.get("taker_fee") or "0.001")),
    )
