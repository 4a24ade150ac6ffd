"""Brokers (a user's exchange accounts) and the paper exchange's stored state."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction

from apps.brokers.credentials import credential_encrypt

PAPER_EXCHANGE = "paper"


class TypeDeTrading(models.TextChoices):
    OFF = "OFF", "Off"
    STRATEGIE = "Strategie", "Strategie"
    WEBHOOKS = "Webhooks", "Webhooks"


class Broker(models.Model):
    """One exchange account of a user. Credentials are stored encrypted, never returned."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="brokers")
    name = models.CharField(max_length=100)
    exchange = models.CharField(max_length=50, help_text="ccxt exchange id (binance, okx, …) or 'paper'")
    api_key_encrypted = models.TextField(blank=True, default="")
    api_secret_encrypted = models.TextField(blank=True, default="")
    api_password_encrypted = models.TextField(blank=True, default="")
    api_base_url = models.URLField(
        blank=True, default="", help_text="Overrides the exchange's API address (local simulator, proxies)"
    )
    is_testnet = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    type_de_trading = models.CharField(max_length=20, choices=TypeDeTrading.choices, default=TypeDeTrading.OFF)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="broker_unique_name_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.exchange}, #{self.pk})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """One default broker per user, whoever saves (API, admin, seed_demo): making this one
        the default un-defaults the user's others in the same transaction."""
        with transaction.atomic():
            if self.is_default:
                Broker.objects.filter(user_id=self.user_id, is_default=True).exclude(pk=self.pk).update(
                    is_default=False
                )
            super().save(*args, **kwargs)

    def clean(self) -> None:
        """Any exchange ccxt knows (from the stored catalog: this runs in the web process, which never
        imports ccxt), or the paper exchange; a base URL only where the operator allows."""
        from django.core.exceptions import ValidationError

        from trading.live.catalog import exchange_ids

        if self.exchange != PAPER_EXCHANGE and self.exchange not in exchange_ids():
            raise ValidationError({"exchange": f"'{self.exchange}' is neither 'paper' nor an exchange id ccxt knows"})
        if refusal := self.base_url_refusal():
            raise ValidationError({"api_base_url": refusal})

    def base_url_refusal(self) -> str | None:
        """Why `api_base_url` may not be called (None when empty, the exchange's own, or allowlisted)."""
        from trading.live.base_url import allowlist_parse, base_url_refusal

        allowlist = allowlist_parse(settings.EXCHANGE_BASE_URL_ALLOWLIST)
        return base_url_refusal(self.api_base_url, exchange_id=self.exchange, allowlist=allowlist)

    @property
    def is_paper(self) -> bool:
        return self.exchange == PAPER_EXCHANGE

    @property
    def label(self) -> str:
        """How messages name this broker: name and id, never a credential."""
        return f"'{self.name}' (#{self.pk}, {self.exchange})"

    def set_credentials(
        self, *, api_key: str | None = None, api_secret: str | None = None, api_password: str | None = None
    ) -> None:
        """Encrypt and store the given credentials; None leaves one unchanged, '' clears it."""
        if api_key is not None:
            self.api_key_encrypted = credential_encrypt(api_key)
        if api_secret is not None:
            self.api_secret_encrypted = credential_encrypt(api_secret)
        if api_password is not None:
            self.api_password_encrypted = credential_encrypt(api_password)


class PaperAccount(models.Model):
    """Balances of a paper broker, kept across restarts by the gateway."""

    broker = models.OneToOneField(Broker, on_delete=models.CASCADE, related_name="paper_account")
    balances = models.JSONField(default=dict)  # {"USDT": {"free": "…", "locked": "…"}}
    next_order_id = models.BigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"paper account of broker #{self.broker_id}"


class PaperOrder(models.Model):
    """An order on the paper exchange, as the paper exchange itself keeps it."""

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=40)
    client_order_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=40)
    status = models.CharField(max_length=20)
    record = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "order_id"], name="paper_order_unique_id"),
            models.UniqueConstraint(fields=["account", "client_order_id"], name="paper_order_unique_client_id"),
        ]
        indexes = [models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return f"paper order {self.order_id} ({self.client_order_id}) {self.status}"
