"""Every bad alert is recorded as an error that says what was wrong, and sends nothing."""

from __future__ import annotations

import json

import pytest

from apps.brokers.models import Broker
from apps.webhooks.models import Order, WebhookState
from tests.engine.conftest import BUY_BODY

pytestmark = pytest.mark.integration


def _sent_nothing() -> bool:
    return not Order.objects.exclude(status="rejected").exists() and not WebhookState.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"Symbol": "BTCUSDT"}, "Action"),
        ({"Symbol": "BTCUSDT", "Action": "Moon"}, "Action"),
        ({"Action": "BuyMarket", "Prix": "40000"}, "Symbol"),
        ({**BUY_BODY, "Symbol": "FOOBARUSDT"}, "FOOBARUSDT"),
        ({**BUY_BODY, "Prix": "abc"}, "Prix"),
        ({**BUY_BODY, "Prix": "-5"}, "Prix"),
        ({**BUY_BODY, "PourCent": "0"}, "PourCent"),
        ({**BUY_BODY, "PourCent": "150"}, "PourCent"),
        ({**BUY_BODY, "UserExchangeID": 999999}, "999999"),
        ({**BUY_BODY, "PrixSL": "41000"}, "stop-loss"),
        ({**BUY_BODY, "PourCent": "0.04"}, "minimum"),
        ({**BUY_BODY, "PourCent": "0.001"}, "rounds to zero"),
        ({"Symbol": "BTCUSDT", "Action": "SellMarket", "Prix": "40000"}, "no open position"),
        ({"Symbol": "BTCUSDT", "Action": "MAJ", "PrixSL": "39000", "Prix": "40000"}, "no open position"),
        ({"Symbol": "BTCUSDT", "Action": "MISS"}, "MISS"),
    ],
)
def test_bad_alert_is_recorded_as_an_error_that_names_the_problem(alerts, body, message):
    if isinstance(body, dict):
        body = json.dumps({"UserExchangeID": alerts.broker.pk, **body})
    webhook = alerts.send(body)

    assert webhook.status == "error"
    assert message.lower() in webhook.error_message.lower(), webhook.error_message
    assert webhook.processed_at is not None
    assert _sent_nothing()


@pytest.mark.parametrize("mode", ["OFF", "Strategie"])
def test_alert_for_a_broker_not_in_webhooks_mode_is_recorded_not_executed(alerts, mode):
    Broker.objects.filter(pk=alerts.broker.pk).update(type_de_trading=mode)
    webhook = alerts.send(BUY_BODY)

    assert webhook.status == "error" and mode in webhook.error_message
    assert _sent_nothing()


def test_alert_for_an_inactive_broker_is_recorded_not_executed(alerts):
    Broker.objects.filter(pk=alerts.broker.pk).update(is_active=False)
    webhook = alerts.send(BUY_BODY)

    assert webhook.status == "error" and "inactive" in webhook.error_message
    assert _sent_nothing()


def test_alert_naming_another_users_broker_is_refused(alerts, bob):
    bobs = Broker.objects.create(user=bob, name="Bob's", exchange="paper", type_de_trading="Webhooks")
    webhook = alerts.send({**BUY_BODY, "UserExchangeID": bobs.pk})

    assert webhook.status == "error" and str(bobs.pk) in webhook.error_message
    assert webhook.broker is None
    assert _sent_nothing()


def test_alert_with_a_userid_other_than_the_tokens_user_is_refused(alerts, bob):
    webhook = alerts.send({**BUY_BODY, "UserID": bob.pk})

    assert webhook.status == "error" and "UserID" in webhook.error_message
    assert _sent_nothing()


def test_buy_with_no_free_balance_is_an_insufficient_balance_error(alerts):
    alerts.send(BUY_BODY)
    webhook = alerts.send({**BUY_BODY, "PourCent": "100", "BarTime": "2026-11-24T10:05:00Z"})
    assert webhook.status == "processed"
    third = alerts.send({**BUY_BODY, "PourCent": "100", "BarTime": "2026-11-24T10:10:00Z"})

    assert third.status == "error"
    assert "usdt" in third.error_message.lower()


def test_legacy_token_alert_without_userid_is_an_error(alerts):
    webhook = alerts.send(BUY_BODY, user_id=None)

    assert webhook.status == "error" and "UserID" in webhook.error_message


def test_legacy_token_alert_with_userid_is_executed_for_that_user(alerts):
    webhook = alerts.send({**BUY_BODY, "UserID": alerts.user.pk}, user_id=None)

    assert webhook.status == "processed", webhook.error_message
    assert webhook.user == alerts.user


def test_ping_is_recorded_and_trades_nothing(alerts):
    webhook = alerts.send({"Symbol": "BTCUSDT", "Action": "PING", "Interval": "5", "Close": "40000"})

    assert webhook.status == "processed"
    assert webhook.interval == "5"
    assert _sent_nothing()


def test_token_never_appears_in_the_recorded_payload(alerts):
    webhook = alerts.send({**BUY_BODY, "Token": "abt_secret"})

    assert "Token" not in webhook.raw_payload
    assert "abt_secret" not in json.dumps(webhook.raw_payload)


def test_broker_switched_off_between_two_alerts_refuses_the_second(alerts):
    """The engine keeps brokers between alerts; saving one tells it at once."""
    first = alerts.send({**BUY_BODY, "ID": "first"})
    assert first.status == "processed"

    broker = Broker.objects.get(pk=alerts.broker.pk)
    broker.type_de_trading = "OFF"
    broker.save()  # a dashboard or admin edit
    second = alerts.send({**BUY_BODY, "ID": "second"})

    assert second.status == "error" and "OFF mode" in second.error_message


def test_user_deactivated_between_two_alerts_has_the_second_refused(alerts, alice):
    assert alerts.send({**BUY_BODY, "ID": "first"}).status == "processed"

    alice.is_active = False
    alice.save()
    second = alerts.send({**BUY_BODY, "ID": "second"})

    assert second.status == "error"
    assert second.broker is None


def test_broker_changed_without_a_save_signal_is_seen_within_seconds(alerts, monkeypatch):
    """A bulk update bumps no version: the cache's age limit still catches it."""
    assert alerts.send({**BUY_BODY, "ID": "first"}).status == "processed"
    Broker.objects.filter(pk=alerts.broker.pk).update(is_active=False)
    monkeypatch.setattr(alerts.engine.brokers, "max_age", 0.0)

    second = alerts.send({**BUY_BODY, "ID": "second"})

    assert second.status == "error" and "inactive" in second.error_message


def test_legacy_alert_with_a_userid_in_other_digits_is_an_error_not_a_crash(alerts, settings):
    settings.WEBHOOK_TOKEN = "legacy"
    webhook = alerts.send({**BUY_BODY, "UserID": "²"}, user_id=None)

    assert webhook.status == "error" and "UserID is not a number" in webhook.error_message
