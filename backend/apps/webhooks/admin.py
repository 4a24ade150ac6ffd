"""Admin for alerts, positions, orders and tokens (token hashes are never shown)."""

from __future__ import annotations

from django.contrib import admin

from apps.webhooks.models import Order, Webhook, WebhookState, WebhookToken


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "received_at",
        "user",
        "broker",
        "symbol",
        "action",
        "prix",
        "pour_cent",
        "status",
        "order_id",
    )
    list_filter = ("status", "action")
    search_fields = ("symbol", "error_message", "trace_id")
    date_hierarchy = "received_at"


@admin.register(WebhookState)
class WebhookStateAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "broker",
        "symbol",
        "quantity",
        "entry_price",
        "current_price",
        "stop_loss_price",
        "take_profit_price",
        "protection_mode",
        "unrealized_pnl",
        "realized_pnl",
        "status",
    )
    list_filter = ("status", "protection_mode")
    search_fields = ("symbol",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "broker",
        "symbol",
        "kind",
        "side",
        "type",
        "amount",
        "price",
        "stop_price",
        "status",
        "filled",
        "average_price",
        "fee",
    )
    list_filter = ("status", "kind", "side")
    search_fields = ("client_order_id", "exchange_order_id", "symbol")


@admin.register(WebhookToken)
class WebhookTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "label", "created_at", "revoked_at")
    exclude = ("token_hash",)
    readonly_fields = ("prefix", "user", "created_at")

    def has_add_permission(self, request: object) -> bool:  # tokens are created where they can be shown once
        return False
