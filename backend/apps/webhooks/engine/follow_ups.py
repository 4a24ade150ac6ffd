"""Follow-up rules: what an order's new state asks for next (protect after an entry filled,
cancel the twin of a stop or target that filled, re-protect what an exit left)."""

from __future__ import annotations

import logging

from apps.core.gateway_client import GatewayClient
from apps.webhooks.engine.cancels import protection_cancel
from apps.webhooks.engine.failures import failure_text
from apps.webhooks.engine.ids import order_origin
from apps.webhooks.engine.orders import PROTECTIVE
from apps.webhooks.engine.protection import protection_fields_set, protection_sync, protection_to_guard
from apps.webhooks.models import Order, PositionStatus
from trading.orders import OrderKind, OrderStatus

logger = logging.getLogger(__name__)


def order_follow_up(order: Order, gateway: GatewayClient) -> None:
    """What an order's new state asks for next: protect after an entry, cancel a twin,
    re-protect what an exit left. `order` is as order_state_apply left it."""
    position = order.position if order.position_id else None
    if position is None or getattr(order, "state_outdated", False):
        return
    if order.kind in PROTECTIVE and order.status == OrderStatus.FILLED:
        if position.status == PositionStatus.OPEN:
            protection_sync(position, gateway, origin=order_origin(order))
        else:
            protection_cancel(position, gateway)
            protection_fields_set(position, [])
        return
    if order.kind in PROTECTIVE and order.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
        # Cancelled by the exchange, not by us (ours are never followed up): protect again,
        # unless its twin filled and closed the position.
        position.refresh_from_db()
        if position.status == PositionStatus.OPEN:
            protection_sync(position, gateway, origin=order_origin(order))
        return
    if order.kind == OrderKind.ENTRY and not OrderStatus(order.status).is_final:
        return  # protect once the entry has finished filling
    if order.kind in (OrderKind.ENTRY, OrderKind.EXIT):
        protection_sync(
            position,
            gateway,
            origin=order_origin(order),
            fresh=getattr(order, "position_fresh", False),
            new_origin=getattr(order, "just_recorded", False),
        )


def order_follow_up_guarded(order: Order, gateway: GatewayClient) -> str:
    """order_follow_up for an order that has traded: a failure of what follows never undoes the
    trade. The position is left to the engine guard (a later pass tries the exchange again)
    and the failure comes back as a warning; "" when all went well."""
    try:
        order_follow_up(order, gateway)
    except Exception as exc:
        position = order.position if order.position_id else None
        if position is None:
            raise
        guarded = protection_to_guard(position)
        logger.warning("after %s: %s", order.client_order_id, failure_text(exc))
        then = "guarded by the engine until the exchange takes them" if guarded else "nothing to protect"
        return f"traded, but protecting the position failed ({failure_text(exc)}): {then}"
    return ""
