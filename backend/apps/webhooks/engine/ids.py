"""Client order ids: derived from the alert, so a retry of the same alert reuses them."""

from __future__ import annotations

from functools import cache

from apps.core.models import Installation
from trading.orders import OrderKind

_KIND_CODES = {OrderKind.ENTRY: "e", OrderKind.EXIT: "x", OrderKind.STOP_LOSS: "sl", OrderKind.TAKE_PROFIT: "tp"}


@cache
def _prefix() -> str:
    return Installation.current().order_prefix


def client_order_id(*, origin: str, kind: OrderKind, attempt: int = 0) -> str:
    """`ab<install>-<origin>-<kind>[<attempt>]`, at most 36 characters (Binance's limit).

    `origin` is `w<webhook id>` for orders an alert caused and `p<position id>…` for orders
    the engine placed on its own.
    """
    suffix = f"{_KIND_CODES[kind]}{attempt or ''}"
    return f"ab{_prefix()}-{origin}-{suffix}"[:36]
