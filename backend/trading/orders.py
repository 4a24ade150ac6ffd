"""Orders as the domain sees them: what we ask an exchange for, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"  # a market sell once the price falls to stop_price
    TAKE_PROFIT_LIMIT = "take_profit_limit"  # a limit sell at price once reached


class OrderKind(StrEnum):
    """Why Aristobot sent the order."""

    ENTRY = "entry"
    EXIT = "exit"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


class OrderStatus(StrEnum):
    """Life of an order. `NEW` and `SUBMITTING` exist only in Aristobot's records."""

    NEW = "new"  # recorded, not yet sent
    SUBMITTING = "submitting"  # sent; the answer is not known yet
    OPEN = "open"  # resting on the exchange
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}


@dataclass(frozen=True)
class OrderRequest:
    """One order to place. Amount and prices are already rounded to the market's precision."""

    client_order_id: str
    symbol: str  # unified, e.g. BTC/USDT
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None = None  # limit price; for market orders None
    stop_price: Decimal | None = None  # trigger of STOP_MARKET orders
    reference_price: Decimal | None = None  # paper only: the fill price of a market order when no market price is known


@dataclass(frozen=True)
class ProtectionRequest:
    """A stop-loss and/or take-profit pair that sells `amount`; one cancels the other."""

    symbol: str
    amount: Decimal
    stop_loss_client_order_id: str | None
    stop_loss_price: Decimal | None
    take_profit_client_order_id: str | None
    take_profit_price: Decimal | None


@dataclass(frozen=True)
class OrderState:
    """The exchange's view of one order."""

    id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    amount: Decimal
    filled: Decimal = Decimal(0)
    price: Decimal | None = None
    stop_price: Decimal | None = None
    average: Decimal | None = None
    fee: Decimal = Decimal(0)  # in the quote currency
    fee_base: Decimal = Decimal(0)  # part of the fee taken from a buy's base amount: never received
    fee_currency: str | None = None
    timestamp_ms: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def cost(self) -> Decimal:
        return (self.average or Decimal(0)) * self.filled


@dataclass(frozen=True)
class Balance:
    """Free and total amounts per currency."""

    free: dict[str, Decimal]
    total: dict[str, Decimal]

    def free_of(self, currency: str) -> Decimal:
        return self.free.get(currency, Decimal(0))
