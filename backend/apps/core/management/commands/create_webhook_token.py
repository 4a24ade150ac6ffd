"""`manage.py create_webhook_token <username>`: issue a webhook token; the token is the last line printed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.webhooks.tokens import token_create


class Command(BaseCommand):
    help = "Create a webhook token for a user. It is shown once, on the last line: store it now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--label", default="", help="a name to recognise the token by (e.g. the strategy)")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        record, plain = token_create(user=user, label=options["label"])
        base = settings.WEBHOOK_PUBLIC_URL.rstrip("/")
        self.stdout.write(f"Webhook token #{record.pk} for {options['username']} (label {record.label!r}).")
        self.stdout.write(f"Use it as {base}/webhook/<token>, the X-Webhook-Token header or the body's Token field.")
        self.stdout.write("It is shown once and cannot be recovered; the token is:")
        self.stdout.write(plain)
