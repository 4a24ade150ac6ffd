"""Every order is placed at most once and every open position is protected, whatever fails
between the engine, the gateway and the exchange (DESIGN §5.2 and §5.4)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Model

from apps.brokers.models import PaperOrder
from apps.core.gateway_client import GatewayUnavailable
from apps.webhooks.engine import reconcile
from apps.webhooks.engine.guard import positions_guard
from apps.webhooks.engine.reconcile import orders_reconcile, positions_protect_again
from apps.webhooks.models import Order, Webhook, WebhookState
from tests.engine.conftest import BUY_BODY, eventually
from trading.errors import DuplicateOrder, ExchangeRejected, TemporaryError

pytestmark = pytest.mark.integration


def _engine_guarded_position(alerts) -> WebhookState:
    alerts.send({**BUY_BODY, "PrixSL": None, "PrixTP": None})
    position = WebhookState.objects.get(status="open")
    position.protection_mode = "engine"
    position.stop_loss_price = Decimal(38000)
    position.take_profit_price = Decimal(46000)
    position.save()
    return position


def test_guard_retry_after_a_gateway_timeout_places_one_sell(alerts, monkeypatch):
    position = _engine_guarded_position(alerts)
    gateway = alerts.engine.gateway
    gateway.price_update(symbol="BTC/USDT", last="37990")
    real_create = type(gateway).create_order
    calls = {"n": 0}

    def placed_but_answer_lost(self, broker_id, request, **kwargs):
        calls["n"] += 1
        real_create(self, broker_id, request, **kwargs)  # the exchange has it ...
        raise GatewayUnavailable("the exchange gateway did not answer create_order within 5 s")  # ... we don't know

    monkeypatch.setattr(type(gateway), "create_order", placed_but_answer_lost)
    with pytest.raises(TemporaryError):
        positions_guard(gateway, symbol="BTC/USDT", low=Decimal(37990), high=Decimal(38100))
    monkeypatch.undo()

    closed = positions_guard(gateway, symbol="BTC/USDT", low=Decimal(37990), high=Decimal(38100))

    position.refresh_from_db()
    sells = Order.objects.filter(position=position, kind="stop_loss")
    assert calls["n"] == 1 and closed == 1
    assert sells.count() == 1 and sells.get().status == "filled"
    assert position.status == "closed"
    client_id = sells.get().client_order_id
    assert eventually(lambda: PaperOrder.objects.filter(record__side="sell").count() == 1)
    assert PaperOrder.objects.get(record__side="sell").client_order_id == client_id


def _restore_ids(firsts: dict[type[Model], int]) -> None:
    """What a restore from a backup taken earlier does: each table hands out its ids again from
    `firsts[model]` on."""
    with connection.cursor() as cursor:
        for model, first in firsts.items():
            table = model._meta.db_table
            if connection.vendor == "sqlite":
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [first - 1, table])
            else:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, first])


def test_order_ids_differ_after_a_restore_that_reuses_database_ids(alerts):
    before = alerts.send(BUY_BODY)
    old_ids = set(Order.objects.values_list("client_order_id", flat=True))
    firsts: dict[type[Model], int] = {
        model: min(model._default_manager.values_list("pk", flat=True)) for model in (Webhook, Order, WebhookState)
    }
    # Restored from a backup taken before that alert: its rows are gone, its orders are not.
    Order.objects.all().delete()
    WebhookState.objects.all().delete()
    Webhook.objects.all().delete()
    _restore_ids(firsts)

    after = alerts.send({**BUY_BODY, "PourCent": "40"})

    assert after.pk == before.pk  # the database hands out the same ids again
    assert after.status == "processed", after.error_message
    new_ids = set(Order.objects.values_list("client_order_id", flat=True))
    assert new_ids and not new_ids & old_ids
    entry = Order.objects.get(webhook=after, kind="entry")
    assert entry.amount != Decimal(0) and entry.filled == entry.amount  # its own order, not the old one


def test_alerts_recorded_before_order_keys_keep_their_id_based_client_order_ids(alerts):
    from apps.webhooks.engine.ids import webhook_origin

    legacy = Webhook(pk=77, order_key="")
    keyed = Webhook(pk=77, order_key="a1b2c3d4e5")
    assert webhook_origin(legacy) == "w77" and webhook_origin(keyed) == "ka1b2c3d4e5"


def test_duplicate_answer_on_protection_means_already_placed_and_is_tracked(alerts, monkeypatch):
    gateway = alerts.engine.gateway
    real_protect = type(gateway).create_protection

    def placed_then_duplicate(self, broker_id, request, **kwargs):
        real_protect(self, broker_id, request, **kwargs)  # an earlier try placed it ...
        raise DuplicateOrder("Duplicate order sent.")  # ... and the retry hears "duplicate"

    monkeypatch.setattr(type(gateway), "create_protection", placed_then_duplicate)
    webhook = alerts.send(BUY_BODY)

    position = WebhookState.objects.get(status="open")
    protection = Order.objects.filter(position=position, kind__in=["stop_loss", "take_profit"])
    assert webhook.status == "processed" and not webhook.error_message
    assert {order.status for order in protection} == {"open"} and protection.count() == 2
    assert position.protection_mode == "exchange" and position.stop_loss_order_id
    ids = {order.client_order_id for order in protection}
    assert eventually(lambda: PaperOrder.objects.filter(client_order_id__in=ids, status="open").count() == 2)


@pytest.mark.parametrize("failure", [TemporaryError("gateway busy"), ExchangeRejected("Rate limit hit")])
def test_protection_failing_after_a_fill_hands_the_position_to_the_guard_and_a_later_pass_places_it(
    alerts, monkeypatch, failure
):
    gateway = alerts.engine.gateway
    real_protect = type(gateway).create_protection

    def refused(self, broker_id, request, **kwargs):
        raise failure

    monkeypatch.setattr(type(gateway), "create_protection", refused)
    webhook = alerts.send(BUY_BODY)

    position = WebhookState.objects.get(status="open")
    assert webhook.status == "processed"  # it traded: never an error
    assert (
        "protecting the position failed" in webhook.error_message and "guarded by the engine" in webhook.error_message
    )
    assert position.protection_mode == "engine"

    monkeypatch.setattr(type(gateway), "create_protection", real_protect)
    assert positions_protect_again(gateway) == 1

    position.refresh_from_db()
    assert position.protection_mode == "exchange"
    live = Order.objects.filter(position=position, kind__in=["stop_loss", "take_profit"], status="open")
    assert live.count() == 2


def test_a_failing_follow_up_does_not_stop_the_others_in_a_reconciliation_pass(alerts, monkeypatch):
    for symbol, price in (("BTCUSDT", "39000"), ("ETHUSDT", "1900"), ("SOLUSDT", "90")):
        price_d = Decimal(price)
        webhook = alerts.send(
            {
                "Symbol": symbol,
                "Action": "BuyLimit",
                "PourCent": "20",
                "Prix": price,
                "PrixSL": str(price_d * Decimal("0.9")),
                "PrixTP": str(price_d * Decimal("1.2")),
            }
        )
        assert webhook.status == "processed", webhook.error_message
    gateway = alerts.engine.gateway
    for symbol, low in (("BTC/USDT", "38900"), ("ETH/USDT", "1890"), ("SOL/USDT", "89")):
        gateway.price_update(symbol=symbol, last=low, low=low, high=low)  # the limits fill on the paper book
    real_follow_up = reconcile._follow_up

    def first_one_breaks(order, gw):
        if order.symbol == "BTC/USDT":
            raise RuntimeError("follow-up bug")
        return real_follow_up(order, gw)

    monkeypatch.setattr(reconcile, "_follow_up", first_one_breaks)

    orders_reconcile(gateway)  # the engine did not read the fill events: it asks

    for symbol in ("ETH/USDT", "SOL/USDT"):
        position = WebhookState.objects.get(symbol=symbol, status="open")
        assert position.protection_mode == "exchange", symbol
    assert WebhookState.objects.get(symbol="BTC/USDT", status="open").quantity > 0


def test_a_limit_sell_resting_for_the_whole_position_leaves_it_to_the_guard_which_cancels_it_first(alerts):
    alerts.send(BUY_BODY)
    sell = alerts.send({"Symbol": "BTCUSDT", "Action": "SellLimit", "PourCent": "100", "Prix": "41000"})
    position = WebhookState.objects.get(status="open")
    exit_order = Order.objects.get(webhook=sell, kind="exit")
    assert sell.status == "processed" and exit_order.status == "open"  # it rests, holding the coins
    assert position.protection_mode == "engine"  # so the exchange cannot hold a stop beside it

    gateway = alerts.engine.gateway
    gateway.price_update(symbol="BTC/USDT", last="37990")
    assert positions_guard(gateway, symbol="BTC/USDT", low=Decimal(37990), high=Decimal(38100)) == 1

    position.refresh_from_db()
    exit_order.refresh_from_db()
    assert position.status == "closed" and exit_order.status == "canceled"
    assert Order.objects.filter(position=position, side="sell", status="filled").count() == 1
