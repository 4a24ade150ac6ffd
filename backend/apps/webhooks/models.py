"""Alerts received (Webhook), positions they opened (WebhookState), orders sent (Order),
and the users' webhook tokens."""

from __future__ import annotations

import hashlib
import secrets
from enum import Enum
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.brokers.models import Broker
from trading.orders import OrderKind, OrderSide, OrderStatus, OrderType

MONEY: dict[str, Any] = {"max_digits": 32, "decimal_places": 12}


def _choices(enum: type[Enum]) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum]


class WebhookStatus(models.TextChoices):
    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    ERROR = "error"
    MISS = "miss"


class Webhook(models.Model):
    """One alert received, including rejected, duplicate and missed ones."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="webhooks")
    broker = models.ForeignKey(Broker, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhooks")
    symbol = models.CharField(max_length=40, blank=True, default="")
    exchange = models.CharField(max_length=40, blank=True, default="")
    interval = models.CharField(max_length=10, blank=True, default="")
    action = models.CharField(max_length=20, blank=True, default="")
    prix = models.DecimalField(**MONEY, null=True, blank=True)
    prix_sl = models.DecimalField(**MONEY, null=True, blank=True)
    prix_tp = models.DecimalField(**MONEY, null=True, blank=True)
    pour_cent = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    status = models.CharField(max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED)
    order_id = models.CharField(max_length=100, blank=True, default="", help_text="exchange id of the entry/exit order")
    error_message = models.TextField(blank=True, default="")
    raw_payload = models.JSONField(default=dict, blank=True)
    bar_time = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Plumbing: where it came from and how it is de-duplicated.
    stream_id = models.CharField(max_length=40, null=True, blank=True, unique=True)
    trace_id = models.CharField(max_length=40, blank=True, default="")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    dedup_key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    order_key = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="random; names this alert's client order ids, so they stay unique after a restore from backup",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # Covering (PostgreSQL): the API's stats and page counts read the index alone.
            models.Index(
                fields=["user", "-received_at"], include=["status", "action", "broker"], name="webhook_user_received"
            ),
            models.Index(fields=["user", "status", "-received_at"]),
            models.Index(fields=["broker", "symbol", "interval", "-received_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.symbol} {self.status}"


class PositionStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


class ProtectionMode(models.TextChoices):
    NONE = "none", "No stop-loss or take-profit"
    EXCHANGE = "exchange", "Held on the exchange"
    ENGINE = "engine", "Guarded by the engine from prices"


class WebhookState(models.Model):
    """A long spot position opened by alerts; at most one open per broker, symbol and mark (a
    paper one and a live one may be open side by side: their coins never mix)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_states")
    broker = models.ForeignKey(Broker, on_delete=models.CASCADE, related_name="webhook_states")
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=10, default="long")
    quantity = models.DecimalField(**MONEY, default=0)
    entry_price = models.DecimalField(**MONEY, default=0)
    entry_fees = models.DecimalField(**MONEY, default=0)
    current_price = models.DecimalField(**MONEY, null=True, blank=True)
    stop_loss_price = models.DecimalField(**MONEY, null=True, blank=True)
    stop_loss_order_id = models.CharField(max_length=100, blank=True, default="")
    take_profit_price = models.DecimalField(**MONEY, null=True, blank=True)
    take_profit_order_id = models.CharField(max_length=100, blank=True, default="")
    protection_mode = models.CharField(max_length=10, choices=ProtectionMode.choices, default=ProtectionMode.NONE)
    status = models.CharField(max_length=10, choices=PositionStatus.choices, default=PositionStatus.OPEN)
    unrealized_pnl = models.DecimalField(**MONEY, default=0)
    realized_pnl = models.DecimalField(**MONEY, default=0)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    paper = models.BooleanField(default=False, help_text="opened on the paper exchange (a paper broker or --test)")
    order_key = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="random; names the client order ids the engine places on its own for this position",
    )
    book_warning = models.TextField(
        blank=True, default="", help_text="a difference between these books and the exchange's, when not repaired"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["broker", "symbol", "paper"],
                condition=Q(status="open"),
                name="one_open_position_per_broker_symbol_mark",
            )
        ]
        indexes = [
            models.Index(fields=["user", "status"]),
            # A candle reads the open positions only, however many closed ones there are.
            models.Index(fields=["status", "symbol"], name="position_status_symbol"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.symbol} {self.quantity} {self.status}"


class AlertStream(models.Model):
    """An alert stream the heartbeat watches for MISSes: one user, broker, symbol and interval.

    Kept when an alert is recorded (`engine/misses.py`), so that a candle reads the streams
    of its symbol that have a bar to judge, never the history of Webhook rows.
    """

    key = models.CharField(max_length=100, unique=True, help_text="user:broker:symbol key:interval seconds")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    broker = models.ForeignKey(Broker, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    symbol_key = models.CharField(max_length=40, help_text="BTCUSDT for BTC/USDT, BINANCE:BTCUSDT …")
    symbol = models.CharField(max_length=40, help_text="as its latest alert spelled it (its MISSes say so too)")
    interval = models.CharField(max_length=10, help_text="as its latest alert spelled it")
    interval_seconds = models.PositiveIntegerField()
    judged = models.DateTimeField(help_text="every bar up to this one (its open) is answered or recorded missed")
    last_bar = models.DateTimeField(help_text="the latest bar an alert answered, at or before `judged`")
    due_at = models.DateTimeField(null=True, blank=True, help_text="heartbeat clock of the next verdict; empty: asleep")

    class Meta:
        indexes = [models.Index(fields=["symbol_key", "due_at"], name="alert_stream_due")]

    def __str__(self) -> str:
        return f"{self.key} judged to {self.judged:%Y-%m-%d %H:%M}"


class AlertStreamBar(models.Model):
    """A bar an alert answered (or a MISS recorded) that its stream has not judged past yet;
    removed once judged. Only ever inserted by recording, so it never races a candle."""

    stream_key = models.CharField(max_length=100)
    symbol_key = models.CharField(max_length=40, db_index=True)
    bar = models.DateTimeField()
    missed = models.BooleanField(default=False, help_text="a MISS already recorded for it (kept from before)")
    symbol = models.CharField(max_length=40)
    interval = models.CharField(max_length=10)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream_key", "bar", "missed"], name="alert_stream_bar_once"),
        ]

    def __str__(self) -> str:
        return f"{self.stream_key} {self.bar:%Y-%m-%d %H:%M}"


class Order(models.Model):
    """Every order Aristobot sent, committed before the gateway is asked."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    broker = models.ForeignKey(Broker, on_delete=models.CASCADE, related_name="orders")
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    position = models.ForeignKey(WebhookState, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    client_order_id = models.CharField(max_length=64, unique=True)
    exchange_order_id = models.CharField(max_length=100, blank=True, default="")
    symbol = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=_choices(OrderKind))
    side = models.CharField(max_length=10, choices=_choices(OrderSide))
    type = models.CharField(max_length=20, choices=_choices(OrderType))
    amount = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY, null=True, blank=True)
    stop_price = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(max_length=20, choices=_choices(OrderStatus), default=OrderStatus.NEW)
    filled = models.DecimalField(**MONEY, default=0)
    average_price = models.DecimalField(**MONEY, null=True, blank=True)
    fee = models.DecimalField(**MONEY, default=0, help_text="in the quote currency")
    fee_base = models.DecimalField(**MONEY, default=0, help_text="part of the fee taken from a buy's base amount")
    fill_applied = models.DecimalField(**MONEY, default=0, help_text="filled quantity already applied to the position")
    error_message = models.TextField(blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    paper = models.BooleanField(default=False, help_text="sent to the paper exchange (a paper broker or --test)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.kind} {self.side} {self.amount} {self.symbol} {self.status}"


TOKEN_PREFIX = "abt_"


def token_hash(token: str) -> str:
    """SHA-256 of a token: tokens are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


class WebhookToken(models.Model):
    """A user's webhook token, stored hashed; the plain token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_tokens")
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… of {self.user_id}"

    @classmethod
    def issue(cls, *, user: object, label: str = "") -> tuple[WebhookToken, str]:
        """Create a token; returns the record and the plain token (shown once, never stored)."""
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = cls.objects.create(user=user, prefix=plain[:12], token_hash=token_hash(plain), label=label)
        return record, plain
