"""What an exchange's answer or a reconciliation's report may change on an order and its
position: a fill is carried once, a finished order stays finished, an outdated report changes
nothing, and a protection is never placed under the id of an order that ended (DESIGN §5.2-5.4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from apps.core.streams import RECONCILED_SEEN, ExchangeEvent
from apps.webhooks.engine.cancels import protection_cancel
from apps.webhooks.engine.ids import client_order_id
from apps.webhooks.engine.ledger import order_state_apply
from apps.webhooks.engine.orders import order_record
from apps.webhooks.engine.protection import protection_sync
from apps.webhooks.models import Order, WebhookState
from tests.engine.conftest import BUY_BODY
from trading.errors import ExchangeRejected, TradingError
from trading.orders import OrderKind, OrderSide, OrderState, OrderStatus, OrderType, ProtectionRequest

pytestmark = pytest.mark.integration


def _protected(alerts) -> tuple[WebhookState, Order]:
    webhook = alerts.send(BUY_BODY)
    assert webhook.status == "processed", webhook.error_message
    position = WebhookState.objects.get(status="open")
    stop = Order.objects.get(position=position, kind="stop_loss", status="open")
    return position, stop


def _state(order: Order, status: OrderStatus, **fields: Any) -> OrderState:
    values: dict[str, Any] = {
        "id": order.exchange_order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": OrderSide(order.side),
        "type": OrderType(order.type),
        "status": status,
        "amount": order.amount,
        "filled": order.filled,
        **fields,
    }
    return OrderState(**values)


def _unprotected(alerts) -> WebhookState:
    alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})
    position = WebhookState.objects.get(status="open")
    position.stop_loss_price = Decimal(38000)
    position.save()
    return position


# Outdated reports and late events ------------------------------------------------------------


def test_a_missing_report_made_before_the_order_changed_never_cancels_it(alerts):
    position, stop = _protected(alerts)
    protection_before = sorted(Order.objects.filter(position=position).values_list("client_order_id", "status"))
    # The gateway's start reconciliation saw the row before the engine placed it again.
    seen = (stop.updated_at - timedelta(seconds=30)).isoformat()
    report = _state(stop, OrderStatus.CANCELED, raw={"reconciled": "not found", RECONCILED_SEEN: seen})

    alerts.engine.event_handle(ExchangeEvent(broker_id=stop.broker_id, order=report, paper=True))

    stop.refresh_from_db()
    position.refresh_from_db()
    assert stop.status == "open"
    assert sorted(Order.objects.filter(position=position).values_list("client_order_id", "status")) == (
        protection_before
    ), "no second protection placed"
    assert position.protection_mode == "exchange"


def test_a_missing_report_about_an_unchanged_order_is_applied_and_the_position_protected_again(alerts):
    position, stop = _protected(alerts)
    # Gone from the book behind Aristobot's back (the records still say open).
    alerts.engine.gateway.routed(paper=True).cancel_orders(
        stop.broker_id, symbol=stop.symbol, client_order_ids=[stop.client_order_id]
    )
    report = _state(stop, OrderStatus.CANCELED, raw={"reconciled": "x", RECONCILED_SEEN: stop.updated_at.isoformat()})

    alerts.engine.event_handle(ExchangeEvent(broker_id=stop.broker_id, order=report, paper=True))

    stop.refresh_from_db()
    position.refresh_from_db()
    assert stop.status == "canceled"
    assert Order.objects.filter(position=position, kind="stop_loss", status="open").exclude(pk=stop.pk).count() == 1


def test_a_late_event_never_moves_a_finished_order_back_to_open(alerts):
    position, stop = _protected(alerts)
    protection_cancel(position, alerts.engine.gateway)
    stop.refresh_from_db()
    assert stop.status == "canceled"

    late = _state(stop, OrderStatus.OPEN)
    alerts.engine.event_handle(ExchangeEvent(broker_id=stop.broker_id, order=late, paper=True))

    stop.refresh_from_db()
    assert stop.status == "canceled"
    assert not Order.objects.filter(position=position, kind__in=["stop_loss", "take_profit"], status="open").exists()


def test_a_reused_protection_row_is_marked_as_changed_before_the_exchange_is_asked(alerts, monkeypatch):
    position = _unprotected(alerts)
    gateway = alerts.engine.gateway
    cid = client_order_id(origin="zz", kind=OrderKind.STOP_LOSS)
    long_ago = timezone.now() - timedelta(minutes=10)
    row = Order.objects.create(
        user=position.user,
        broker=position.broker,
        position=position,
        client_order_id=cid,
        kind=OrderKind.STOP_LOSS,
        side=OrderSide.SELL,
        type=OrderType.STOP_MARKET,
        symbol=position.symbol,
        amount=position.quantity,
        stop_price=Decimal(38000),
        status=OrderStatus.REJECTED,  # refused by an earlier try: never on the exchange, reusable
        paper=True,
    )
    Order.objects.filter(pk=row.pk).update(updated_at=long_ago)
    seen: dict[str, Any] = {}
    real_protect = type(gateway).create_protection

    def look_then_protect(self, broker_id, request, **kwargs):
        seen.update(Order.objects.filter(pk=row.pk).values("status", "updated_at").get())
        return real_protect(self, broker_id, request, **kwargs)

    monkeypatch.setattr(type(gateway), "create_protection", look_then_protect)
    protection_sync(position, gateway, origin="zz")

    assert seen["status"] == "submitting"
    assert seen["updated_at"] > long_ago + timedelta(minutes=9), "the reconciliation must not call it settled"


# Client order ids of protection --------------------------------------------------------------


def test_protection_never_reuses_the_client_order_id_of_an_order_that_ended(alerts):
    position = _unprotected(alerts)
    ended = [
        Order.objects.create(
            user=position.user,
            broker=position.broker,
            position=position,
            client_order_id=client_order_id(origin="zz", kind=OrderKind.STOP_LOSS, attempt=n),
            kind=OrderKind.STOP_LOSS,
            side=OrderSide.SELL,
            type=OrderType.STOP_MARKET,
            symbol=position.symbol,
            amount=position.quantity,
            stop_price=Decimal(38000),
            status=OrderStatus.CANCELED,
            paper=True,
        )
        for n in range(25)
    ]

    protection_sync(position, alerts.engine.gateway, origin="zz")

    position.refresh_from_db()
    stop = Order.objects.get(position=position, kind="stop_loss", status="open")
    assert stop.client_order_id == client_order_id(origin="zz", kind=OrderKind.STOP_LOSS, attempt=25)
    assert set(Order.objects.filter(pk__in=[o.pk for o in ended]).values_list("status", flat=True)) == {"canceled"}
    assert position.protection_mode == "exchange"


def test_a_placement_answered_with_an_order_that_ended_leaves_the_position_to_the_guard(alerts, monkeypatch):
    position = _unprotected(alerts)
    gateway = alerts.engine.gateway

    def old_final_order(self, broker_id, request: ProtectionRequest, **kwargs):
        return [
            OrderState(
                id="old-1",
                client_order_id=str(request.stop_loss_client_order_id),
                symbol=request.symbol,
                side=OrderSide.SELL,
                type=OrderType.STOP_MARKET,
                status=OrderStatus.CANCELED,
                amount=request.amount,
            )
        ]

    monkeypatch.setattr(type(gateway), "create_protection", old_final_order)
    with pytest.raises(ExchangeRejected):
        protection_sync(position, gateway, origin="zz")

    position.refresh_from_db()
    assert position.status == "open" and position.protection_mode == "engine"


# Fills -----------------------------------------------------------------------------------------


def test_a_fill_another_engine_applied_meanwhile_is_not_applied_again(alerts, paper_broker):
    order = order_record(
        broker=paper_broker,
        client_order_id="ab-test-e",
        kind=OrderKind.ENTRY,
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        symbol="BTC/USDT",
        amount=Decimal("0.01"),
        paper=True,
    )
    filled = _state(order, OrderStatus.FILLED, id="x1", filled=Decimal("0.01"), average=Decimal(40000))
    other_engine = Order.objects.get(pk=order.pk)  # the same answer, heard by a second engine first
    order_state_apply(other_engine, filled)

    order_state_apply(order, filled)

    position = WebhookState.objects.get(status="open")
    assert position.quantity == Decimal("0.01")
    order.refresh_from_db()
    assert order.fill_applied == Decimal("0.01") and order.position_id == position.pk


def test_a_fill_answered_at_once_is_applied_with_no_extra_query(alerts, paper_broker, django_assert_max_num_queries):
    order = order_record(
        broker=paper_broker,
        client_order_id="ab-test-e2",
        kind=OrderKind.ENTRY,
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        symbol="BTC/USDT",
        amount=Decimal("0.01"),
        paper=True,
    )
    filled = _state(order, OrderStatus.FILLED, id="x2", filled=Decimal("0.01"), average=Decimal(40000))

    # Savepoint, lookup of an open position, its INSERT, the order's conditional UPDATE, release.
    with django_assert_max_num_queries(5):
        order_state_apply(order, filled)

    assert WebhookState.objects.get(status="open").quantity == Decimal("0.01")


# Cancelling ------------------------------------------------------------------------------------


class _RefusingOneCancel:
    """A gateway whose exchange refuses to cancel the first order and cancels the others."""

    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders

    def routed(self, *, paper: bool) -> _RefusingOneCancel:
        return self

    def cancel_orders(self, broker_id: int, *, symbol: str, client_order_ids: list[str]) -> list[Any]:
        answers: list[OrderState | TradingError] = [ExchangeRejected("Unknown order sent.")]
        for order in self.orders[1:]:
            answers.append(replace(_state(order, OrderStatus.CANCELED)))
        return answers


def test_cancel_answers_learned_before_a_refusal_are_kept(alerts):
    position, _stop = _protected(alerts)
    protective = list(Order.objects.filter(position=position, kind__in=["stop_loss", "take_profit"]).order_by("id"))
    assert len(protective) == 2

    with pytest.raises(ExchangeRejected):
        protection_cancel(position, _RefusingOneCancel(protective))

    statuses = dict(Order.objects.filter(pk__in=[o.pk for o in protective]).values_list("pk", "status"))
    assert statuses[protective[0].pk] == "open"
    assert statuses[protective[1].pk] == "canceled"
