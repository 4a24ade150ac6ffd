"""Serializer fields shared by the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from rest_framework import serializers

from trading.numbers import decimal_text


class DecimalText(serializers.DecimalField):
    """A Decimal as an exact string without padding zeros: "40000", "0.124875" (never a float)."""

    def to_representation(self, value: Any) -> str:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return decimal_text(number) if number.is_finite() else str(number)


class DecimalTextModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose Decimal model fields come out as DecimalText."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: DecimalText,
    }
