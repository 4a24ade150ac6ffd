"""Create the demo user, its paper broker and a webhook token; print how to send an alert."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.brokers.models import PAPER_EXCHANGE, Broker, TypeDeTrading
from apps.webhooks.models import WebhookToken
from apps.webhooks.tokens import token_webhook_url


class Command(BaseCommand):
    help = "Idempotent demo data: user demo/demo, a paper broker 'Paper' in Webhooks mode, a webhook token."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(
                username="demo", defaults={"is_staff": True, "is_superuser": True}
            )
            if created:
                user.set_password("demo")
                user.save()
            broker, _ = Broker.objects.get_or_create(
                user=user,
                name="Paper",
                defaults={"exchange": PAPER_EXCHANGE, "type_de_trading": TypeDeTrading.WEBHOOKS, "is_default": True},
            )
            # A new token each run: the plain token is never stored, so it can only be shown now.
            WebhookToken.objects.filter(user=user, label="demo", revoked_at__isnull=True).delete()
            _record, token = WebhookToken.issue(user=user, label="demo")
        url = token_webhook_url(token)
        alert = {
            "Symbol": "BTCUSDT",
            "Exchange": "BINANCE",
            "Interval": "5",
            "Action": "BuyMarket",
            "Prix": "40000",
            "PrixSL": "38000",
            "PrixTP": "46000",
            "PourCent": "50",
            "UserID": user.pk,
            "UserExchangeID": broker.pk,
        }
        self.stdout.write(
            f"Demo user: demo / demo (id {user.pk}); paper broker 'Paper' (id {broker.pk}) in Webhooks mode"
        )
        self.stdout.write(f"Webhook URL: {url}")
        self.stdout.write("Send a test alert:")
        self.stdout.write(f"  curl -s -H 'Content-Type: text/plain' -d '{json.dumps(alert)}' {url}")
