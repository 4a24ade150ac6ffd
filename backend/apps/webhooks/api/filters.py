"""Query filters of the alert, position and order lists; a bad value is a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.db.models import QuerySet, Value
from django.db.models.functions import Replace, Upper
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from apps.core.api.periods import PERIODS, period_parse
from apps.webhooks.models import Order, PositionStatus, Webhook, WebhookState, WebhookStatus
from trading.alerts import Action
from trading.markets import symbol_key
from trading.orders import OrderKind, OrderStatus


def symbol_filter(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
    """`BTCUSDT`, `btc-usdt` and `BTC/USDT` are one symbol (`symbol_key`), whichever way the
    row spells it (`BTCUSDT` in alerts, `BTC/USDT` in positions and orders)."""
    compact = symbol_key(value)
    if not compact:
        return queryset.none()
    return queryset.annotate(symbol_compact=Replace(Upper(name), Value("/"), Value(""))).filter(symbol_compact=compact)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """A database id: a whole number that fits a bigint (else 400, never a database error)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


def _choices(values: Any) -> list[tuple[str, str]]:
    return [(str(v), str(v)) for v in values]


class WebhookFilter(filters.FilterSet):
    """`symbol`, `action`, `status`, `broker` (or `broker_id`), `period` (24h, 7d, 30d), `ordering`."""

    symbol = filters.CharFilter(method=symbol_filter, max_length=40)
    action = filters.ChoiceFilter(choices=_choices(Action))
    status = filters.ChoiceFilter(choices=WebhookStatus.choices)
    broker = IdFilter(field_name="broker_id")
    broker_id = IdFilter(field_name="broker_id")
    period = filters.ChoiceFilter(choices=_choices(PERIODS), method="filter_period")
    ordering = filters.OrderingFilter(
        fields=("received_at", "processed_at", "id", "symbol", "action", "status", "broker")
    )

    class Meta:
        model = Webhook
        fields: list[str] = []

    def filter_period(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        start, _end = period_parse(value)
        return queryset.filter(received_at__gte=start)


class WebhookStateFilter(filters.FilterSet):
    """`symbol`, `status` (open, closed), `broker` (or `broker_id`), `ordering`."""

    symbol = filters.CharFilter(method=symbol_filter, max_length=40)
    status = filters.ChoiceFilter(choices=PositionStatus.choices)
    broker = IdFilter(field_name="broker_id")
    broker_id = IdFilter(field_name="broker_id")
    ordering = filters.OrderingFilter(
        fields=(
            "opened_at",
            "updated_at",
            "closed_at",
            "id",
            "symbol",
            "status",
            "quantity",
            "unrealized_pnl",
            "realized_pnl",
            "broker",
        )
    )

    class Meta:
        model = WebhookState
        fields: list[str] = []


class OrderFilter(filters.FilterSet):
    """`broker`, `symbol`, `status`, `kind`, `webhook` (the alert that caused it), `position`, `ordering`."""

    symbol = filters.CharFilter(method=symbol_filter, max_length=40)
    status = filters.ChoiceFilter(choices=_choices(OrderStatus))
    kind = filters.ChoiceFilter(choices=_choices(OrderKind))
    broker = IdFilter(field_name="broker_id")
    webhook = IdFilter(field_name="webhook_id")
    position = IdFilter(field_name="position_id")
    ordering = filters.OrderingFilter(fields=("created_at", "updated_at", "id", "symbol", "status", "kind"))

    class Meta:
        model = Order
        fields: list[str] = []
