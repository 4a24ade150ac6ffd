"""`manage.py rotate_encryption_key`: re-encrypt every stored exchange credential with the first key.

Put the new key first in ARISTOBOT_ENCRYPTION_KEY (`new,old`), run this, then drop the old key.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.brokers.credentials import credential_reencrypt
from apps.brokers.models import Broker

FIELDS = ("api_key_encrypted", "api_secret_encrypted", "api_password_encrypted")


class Command(BaseCommand):
    help = (
        "Re-encrypt every broker's API key, secret and password with the first key of ARISTOBOT_ENCRYPTION_KEY "
        "(all in one transaction; nothing changes if one cannot be decrypted with the configured keys)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="check that every credential decrypts; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.ENCRYPTION_KEYS:
            raise CommandError("ARISTOBOT_ENCRYPTION_KEY is not set")
        unreadable: list[str] = []
        changed = 0
        with transaction.atomic():
            for broker in Broker.objects.select_for_update().order_by("pk"):
                updated = []
                for name in FIELDS:
                    cipher = getattr(broker, name)
                    if not cipher:
                        continue
                    try:
                        setattr(broker, name, credential_reencrypt(cipher))
                    except InvalidToken:
                        unreadable.append(f"broker {broker.label} {name.removesuffix('_encrypted')}")
                        continue
                    updated.append(name)
                if updated and not options["dry_run"]:
                    broker.save(update_fields=updated)
                    changed += 1
            if unreadable:  # raised inside the transaction: it rolls back
                raise CommandError(
                    "nothing changed: these credentials do not decrypt with any configured key "
                    "(add the key they were encrypted with after the new one): " + "; ".join(unreadable)
                )
        if options["dry_run"]:
            self.stdout.write("dry run: every stored credential decrypts with the configured keys")
            return
        count = len(settings.ENCRYPTION_KEYS)
        self.stdout.write(f"re-encrypted the credentials of {changed} broker(s) with the first of {count} key(s)")
        if count > 1:
            self.stdout.write("you can now remove the old key(s) from ARISTOBOT_ENCRYPTION_KEY and restart the gateway")
