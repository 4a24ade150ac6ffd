"""How a broker looks in the API: credentials go in, never come out (only whether each is set)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.brokers.models import Broker

CREDENTIALS = ("api_key", "api_secret", "api_password")


class BrokerSerializer(serializers.ModelSerializer):
    """A user's exchange account. A credential sent as "" is cleared; one left out is kept."""

    api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=1024, trim_whitespace=True
    )
    api_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=1024, trim_whitespace=True
    )
    api_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=1024, trim_whitespace=True
    )
    has_api_key = serializers.SerializerMethodField()
    has_api_secret = serializers.SerializerMethodField()
    has_api_password = serializers.SerializerMethodField()

    class Meta:
        model = Broker
        fields = (
            "id",
            "user",
            "name",
            "exchange",
            "api_key",
            "api_secret",
            "api_password",
            "has_api_key",
            "has_api_secret",
            "has_api_password",
            "api_base_url",
            "is_testnet",
            "is_active",
            "is_default",
            "type_de_trading",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "user", "created_at", "updated_at")
        # Uniqueness of the name per user is checked in validate(): the user is not an input.
        validators: list[Any] = []

    def get_has_api_key(self, broker: Broker) -> bool:
        return bool(broker.api_key_encrypted)

    def get_has_api_secret(self, broker: Broker) -> bool:
        return bool(broker.api_secret_encrypted)

    def get_has_api_password(self, broker: Broker) -> bool:
        return bool(broker.api_password_encrypted)

    def validate_name(self, value: str) -> str:
        name = value.strip()
        if not name:
            raise serializers.ValidationError("must not be blank")
        return name

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Model rules (a known exchange) and a name unique among the user's brokers."""
        user = self.context["request"].user
        instance: Broker | None = self.instance
        name = attrs.get("name", instance.name if instance else "")
        taken = Broker.objects.filter(user=user, name=name)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            raise serializers.ValidationError({"name": [f"you already have a broker named {name!r}"]})
        probe = copy.copy(instance) if instance is not None else Broker(user=user)
        for key, value in attrs.items():
            if key not in CREDENTIALS:
                setattr(probe, key, value)
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class BalanceLineSerializer(serializers.Serializer):
    currency = serializers.CharField()
    free = serializers.CharField()
    total = serializers.CharField()


class BalanceSerializer(serializers.Serializer):
    """The broker's balances as the exchange reports them (currencies with a non-zero amount)."""

    broker = serializers.IntegerField()
    balances = BalanceLineSerializer(many=True)


class ConnectionTestSerializer(serializers.Serializer):
    """The exchange accepted the keys and answered a balance."""

    ok = serializers.BooleanField()
    message = serializers.CharField()
    balances = serializers.DictField(child=serializers.CharField())


class GatewayErrorSerializer(serializers.Serializer):
    """The gateway did not answer (503) or the exchange refused (502)."""

    message = serializers.CharField()
    error_kind = serializers.CharField()
