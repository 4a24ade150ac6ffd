"""How alerts, positions, orders and webhook tokens look in the API (and in the WebSocket push).

Querysets behind these serializers select `user` and `broker` (see `views.py`), so a page costs
the same number of queries whatever its size.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import DecimalText, DecimalTextModelSerializer
from apps.webhooks.models import Order, Webhook, WebhookState, WebhookToken

WEBHOOK_FIELDS: tuple[str, ...] = (
    "id",
    "user",
    "user_username",
    "broker",
    "broker_name",
    "exchange_name",
    "symbol",
    "exchange",
    "interval",
    "action",
    "prix",
    "prix_sl",
    "prix_tp",
    "pour_cent",
    "status",
    "order_id",
    "error_message",
    "raw_payload",
    "received_at",
    "processed_at",
)

POSITION_FIELDS: tuple[str, ...] = (
    "id",
    "user",
    "user_username",
    "broker",
    "broker_name",
    "exchange_name",
    "symbol",
    "side",
    "quantity",
    "entry_price",
    "current_price",
    "stop_loss_price",
    "stop_loss_order_id",
    "take_profit_price",
    "take_profit_order_id",
    "unrealized_pnl",
    "realized_pnl",
    "status",
    "opened_at",
    "updated_at",
    "closed_at",
    "book_warning",
)

ORDER_FIELDS: tuple[str, ...] = (
    "id",
    "user",
    "broker",
    "broker_name",
    "exchange_name",
    "webhook",
    "position",
    "client_order_id",
    "exchange_order_id",
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
    "error_message",
    "created_at",
    "updated_at",
)


@extend_schema_field({"type": "object", "additionalProperties": True})
class RawPayloadField(serializers.JSONField):
    """The alert's body as received; the engine stored it without its token
    (`payload_without_secrets`), so nothing is scrubbed again per row."""


class WebhookSerializer(DecimalTextModelSerializer):
    """One alert received."""

    user_username = serializers.CharField(source="user.username", read_only=True, allow_null=True, default=None)
    broker_name = serializers.CharField(source="broker.name", read_only=True, allow_null=True, default=None)
    exchange_name = serializers.CharField(source="broker.exchange", read_only=True, allow_null=True, default=None)
    raw_payload = RawPayloadField(read_only=True)

    class Meta:
        model = Webhook
        fields = WEBHOOK_FIELDS
        read_only_fields = WEBHOOK_FIELDS


class BrokerRowSerializer(DecimalTextModelSerializer):
    """A row that always has a broker, shown with the broker's name and exchange."""

    broker_name = serializers.CharField(source="broker.name", read_only=True)
    exchange_name = serializers.CharField(source="broker.exchange", read_only=True)


class WebhookStateSerializer(BrokerRowSerializer):
    """One position opened by alerts."""

    user_username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = WebhookState
        fields = POSITION_FIELDS
        read_only_fields = POSITION_FIELDS


class OrderSerializer(BrokerRowSerializer):
    """One order Aristobot sent to an exchange."""

    class Meta:
        model = Order
        fields = ORDER_FIELDS
        read_only_fields = ORDER_FIELDS


class WebhookDetailSerializer(WebhookSerializer):
    """One alert with the orders it placed (its entry or exit; the protection belongs to the position)."""

    orders = OrderSerializer(many=True, read_only=True)

    class Meta(WebhookSerializer.Meta):
        fields = (*WEBHOOK_FIELDS, "orders")
        read_only_fields = fields


class WebhookStatsSerializer(serializers.Serializer):
    """Counts of the alerts received in a period."""

    total_webhooks = serializers.IntegerField()
    received = serializers.IntegerField()
    processing = serializers.IntegerField()
    processed = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field, not Serializer.errors
    missed = serializers.IntegerField()
    actions_breakdown = serializers.DictField(child=serializers.IntegerField())
    success_rate = serializers.FloatField(help_text="% processed among the finished alerts (processed, errors, missed)")
    last_webhook_time = serializers.DateTimeField(allow_null=True, help_text="the last alert of the period")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()


class PositionSummarySerializer(serializers.Serializer):
    """The open positions at a glance."""

    open_positions_count = serializers.IntegerField()
    total_unrealized_pnl = DecimalText(max_digits=40, decimal_places=12)
    active_symbols = serializers.ListField(child=serializers.CharField())


class WebhookTokenSerializer(serializers.ModelSerializer):
    """A webhook token as listed: never the token itself, nor its hash."""

    class Meta:
        model = WebhookToken
        fields: tuple[str, ...] = ("id", "prefix", "label", "created_at", "revoked_at")
        read_only_fields: tuple[str, ...] = ("id", "prefix", "created_at", "revoked_at")


class WebhookTokenCreatedSerializer(WebhookTokenSerializer):
    """A new token: the only answer that carries it, with the ready webhook URL."""

    token = serializers.CharField(read_only=True, help_text="shown once, never stored: copy it now")
    webhook_url = serializers.CharField(read_only=True, help_text="the URL to paste in TradingView's alert")

    class Meta(WebhookTokenSerializer.Meta):
        fields = (*WebhookTokenSerializer.Meta.fields, "token", "webhook_url")
        read_only_fields = (*WebhookTokenSerializer.Meta.read_only_fields, "token", "webhook_url")
