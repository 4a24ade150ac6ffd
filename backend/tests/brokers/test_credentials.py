"""Exchange credentials are encrypted at rest and never shown."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from apps.brokers.credentials import credential_decrypt, credential_reencrypt
from apps.brokers.models import Broker

pytestmark = pytest.mark.django_db


def test_credentials_are_stored_encrypted_and_decrypt_back(alice):
    broker = Broker(user=alice, name="Binance", exchange="binance")
    broker.set_credentials(api_key="my-key", api_secret="my-secret")
    broker.save()

    stored = Broker.objects.get(pk=broker.pk)
    assert "my-secret" not in stored.api_secret_encrypted
    assert credential_decrypt(stored.api_secret_encrypted, broker_label=stored.label) == "my-secret"


def test_credentials_survive_a_key_rotation(alice, settings):
    old_key = settings.ENCRYPTION_KEYS[0]
    broker = Broker(user=alice, name="Binance", exchange="binance")
    broker.set_credentials(api_secret="my-secret")
    new_key = Fernet.generate_key()
    settings.ENCRYPTION_KEYS = [new_key, old_key]

    rotated = credential_reencrypt(broker.api_secret_encrypted)
    settings.ENCRYPTION_KEYS = [new_key]

    assert credential_decrypt(rotated, broker_label="x") == "my-secret"


def test_admin_broker_page_never_shows_a_credential(alice, admin_client):
    broker = Broker(user=alice, name="Binance", exchange="binance")
    broker.set_credentials(api_key="visible-key", api_secret="visible-secret")
    broker.save()

    page = admin_client.get(f"/admin/brokers/broker/{broker.pk}/change/").content.decode()

    assert "visible-secret" not in page and "visible-key" not in page
    assert broker.api_secret_encrypted not in page


def test_admin_can_replace_a_secret_without_seeing_it(alice, admin_client):
    broker = Broker.objects.create(user=alice, name="Binance", exchange="binance")
    answer = admin_client.post(
        f"/admin/brokers/broker/{broker.pk}/change/",
        {
            "user": alice.pk,
            "name": "Binance",
            "exchange": "binance",
            "type_de_trading": "OFF",
            "is_active": "on",
            "api_secret": "new-secret",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    broker.refresh_from_db()
    assert credential_decrypt(broker.api_secret_encrypted, broker_label="x") == "new-secret"


def test_broker_accepts_paper_and_any_ccxt_exchange_id_and_refuses_others(alice):
    from django.core.exceptions import ValidationError

    Broker(user=alice, name="a", exchange="paper").full_clean()
    Broker(user=alice, name="b", exchange="kraken").full_clean()
    with pytest.raises(ValidationError, match="neither"):
        Broker(user=alice, name="c", exchange="notanexchange").full_clean()
