"""A paper order: the matching engine's mutable record of one order, and its storage form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from trading.orders import OrderSide, OrderState, OrderStatus, OrderType

PaperRecord = dict[str, str | int | None]


@dataclass
class PaperOrder:
    """One order of a paper account. Paper orders fill whole: `filled` is 0 or `amount`."""

    id: str
    client_order_id: str
    symbol: str  # unified BASE/QUOTE
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    status: OrderStatus = OrderStatus.OPEN
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    fee: Decimal = Decimal(0)  # in the quote currency
    oco_group: str | None = None  # orders of one group share one lock; a fill cancels the others
    created_ms: int = 0
    updated_ms: int = 0
    locked: Decimal = Decimal(0)  # reserved while open: quote for a buy (fee included), base for a sell

    @cached_property
    def base(self) -> str:  # cached: the symbol never changes, and locks are summed on every save
        return self.symbol.split("/")[0]

    @cached_property
    def quote(self) -> str:
        # A unified symbol is BASE/QUOTE, with `:SETTLE` after it for derivatives.
        return self.symbol.split("/")[1].split(":")[0]

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.OPEN

    @property
    def locked_currency(self) -> str:
        return self.quote if self.side is OrderSide.BUY else self.base

    def state(self) -> OrderState:
        """The order as the exchange interface reports it."""
        return OrderState(
            id=self.id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            status=self.status,
            amount=self.amount,
            filled=self.filled,
            price=self.price,
            stop_price=self.stop_price,
            average=self.average,
            fee=self.fee,
            fee_currency=self.quote,
            timestamp_ms=self.created_ms,
            raw=dict(self.to_record()),
        )

    def to_record(self) -> PaperRecord:
        """Plain values for storage: Decimals as strings, enums as their values."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "type": self.type.value,
            "amount": str(self.amount),
            "price": _text(self.price),
            "stop_price": _text(self.stop_price),
            "status": self.status.value,
            "filled": str(self.filled),
            "average": _text(self.average),
            "fee": str(self.fee),
            "oco_group": self.oco_group,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "locked": str(self.locked),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, str | int | None]) -> PaperOrder:
        """The order `to_record` wrote; raises KeyError or ValueError on a damaged record."""
        return cls(
            id=str(record["id"]),
            client_order_id=str(record["client_order_id"]),
            symbol=str(record["symbol"]),
            side=OrderSide(str(record["side"])),
            type=OrderType(str(record["type"])),
            amount=Decimal(str(record["amount"])),
            price=_decimal(record.get("price")),
            stop_price=_decimal(record.get("stop_price")),
            status=OrderStatus(str(record["status"])),
            filled=_decimal(record.get("filled")) or Decimal(0),
            average=_decimal(record.get("average")),
            fee=_decimal(record.get("fee")) or Decimal(0),
            oco_group=None if record.get("oco_group") is None else str(record["oco_group"]),
            created_ms=int(record.get("created_ms") or 0),
            updated_ms=int(record.get("updated_ms") or 0),
            locked=_decimal(record.get("locked")) or Decimal(0),
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | int | None) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))
