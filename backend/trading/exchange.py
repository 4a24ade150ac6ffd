"""The interface every exchange adapter implements (paper, ccxt), used only by the gateway."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from trading.markets import Market
from trading.orders import Balance, OrderRequest, OrderState, ProtectionRequest


class Exchange(Protocol):
    """One broker's account on one exchange. Errors are raised as `trading.errors` classes."""

    async def load_markets(self) -> Mapping[str, Market]: ...

    async def fetch_balance(self) -> Balance: ...

    async def create_order(self, request: OrderRequest) -> OrderState:
        """Place an order. Placing a client order id that exists returns that order."""
        ...

    async def create_protection(self, request: ProtectionRequest) -> list[OrderState]:
        """Place a stop-loss and/or take-profit selling `amount`; when both, one cancels the other."""
        ...

    async def cancel_order(
        self, *, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        """Cancel an open order; cancelling a final order returns it unchanged."""
        ...

    async def fetch_order(
        self, *, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        """One order by exchange id or client order id; OrderNotFound when there is none."""
        ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]: ...

    async def fetch_ticker(self, symbol: str) -> Decimal:
        """The last traded price."""
        ...

    def placements_unknown(self, client_order_ids: Iterable[str]) -> None:
        """Placements of these ids may have been sent by a process that died: before placing
        them, look them up once such a request can no longer execute."""
        ...

    async def close(self) -> None: ...
