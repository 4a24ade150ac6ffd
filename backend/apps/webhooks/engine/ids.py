"""Client order ids: derived from the alert, position or order that causes them, so a retry
reuses them; named by random keys, not database ids, so they stay unique after a restore from
backup (the restored database hands out ids that orders placed since the backup already used)."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache
from typing import TYPE_CHECKING

from apps.core.models import Installation
from trading.orders import OrderKind

if TYPE_CHECKING:
    from apps.webhooks.models import Order, Webhook, WebhookState

_KIND_CODES = {OrderKind.ENTRY: "e", OrderKind.EXIT: "x", OrderKind.STOP_LOSS: "sl", OrderKind.TAKE_PROFIT: "tp"}


@cache
def _prefix() -> str:
    return Installation.current().order_prefix


def order_key_new() -> str:
    """A random key for a new Webhook or WebhookState row (40 bits, 10 hex digits)."""
    return secrets.token_hex(5)


def client_order_id(*, origin: str, kind: OrderKind, attempt: int = 0) -> str:
    """`ab<install>-<origin>-<kind>[<attempt>]`, at most 36 characters (Binance's limit)."""
    suffix = f"{_KIND_CODES[kind]}{attempt or ''}"
    return f"ab{_prefix()}-{origin}-{suffix}"[:36]


def webhook_origin(webhook: Webhook) -> str:
    """Orders an alert causes: `k<order key>`; `w<id>` for alerts recorded before order keys
    existed, so that their orders in flight are still found."""
    return f"k{webhook.order_key}" if webhook.order_key else f"w{webhook.pk}"


def position_origin(position: WebhookState) -> str:
    """Orders the engine places on its own for a position (the guard's): `q<order key>`, or
    `p<id>` for positions opened before order keys existed."""
    return f"q{position.order_key}" if position.order_key else f"p{position.pk}"


def order_origin(order: Order) -> str:
    """Orders that follow an order's new state (protection after a fill): `o` and 16 hex
    digits of a hash of its client order id, which is itself unique across restores."""
    return "o" + hashlib.sha256(order.client_order_id.encode()).hexdigest()[:16]
