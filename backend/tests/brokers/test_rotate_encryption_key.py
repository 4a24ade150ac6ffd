"""`manage.py rotate_encryption_key` re-encrypts every credential with the first key, or nothing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.brokers.credentials import credential_decrypt
from apps.brokers.models import Broker

pytestmark = pytest.mark.django_db


def _broker(user, name: str, **credentials: str) -> Broker:
    broker = Broker(user=user, name=name, exchange="binance")
    broker.set_credentials(**credentials)
    broker.save()
    return broker


def test_rotation_lets_the_old_key_go(alice, bob, settings, capsys):
    old_key = settings.ENCRYPTION_KEYS[0]
    first = _broker(alice, "Main", api_key="key-a", api_secret="secret-a", api_password="pass-a")
    second = _broker(bob, "Other", api_key="key-b", api_secret="secret-b")
    new_key = Fernet.generate_key()
    settings.ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_encryption_key")
    settings.ENCRYPTION_KEYS = [new_key]  # the old key removed

    first.refresh_from_db()
    second.refresh_from_db()
    assert credential_decrypt(first.api_password_encrypted, broker_label="x") == "pass-a"
    assert credential_decrypt(second.api_secret_encrypted, broker_label="x") == "secret-b"
    assert second.api_password_encrypted == ""  # nothing set stays nothing
    assert "re-encrypted the credentials of 2 broker(s) with the first of 2 key(s)" in capsys.readouterr().out


def test_a_credential_no_key_opens_stops_the_rotation_and_changes_nothing(alice, settings):
    old_key = settings.ENCRYPTION_KEYS[0]
    readable = _broker(alice, "Readable", api_secret="fine")
    lost = _broker(alice, "Lost", api_secret="gone")
    Broker.objects.filter(pk=lost.pk).update(api_secret_encrypted=Fernet(Fernet.generate_key()).encrypt(b"x").decode())
    before = Broker.objects.get(pk=readable.pk).api_secret_encrypted
    settings.ENCRYPTION_KEYS = [Fernet.generate_key(), old_key]

    with pytest.raises(CommandError, match=r"nothing changed.*'Lost'.* api_secret"):
        call_command("rotate_encryption_key")

    assert Broker.objects.get(pk=readable.pk).api_secret_encrypted == before


def test_dry_run_checks_without_writing(alice, settings, capsys):
    broker = _broker(alice, "Main", api_secret="s")
    before = broker.api_secret_encrypted
    settings.ENCRYPTION_KEYS = [Fernet.generate_key(), settings.ENCRYPTION_KEYS[0]]

    call_command("rotate_encryption_key", "--dry-run")

    assert Broker.objects.get(pk=broker.pk).api_secret_encrypted == before
    assert "every stored credential decrypts" in capsys.readouterr().out
