"""Broker CRUD and the live checks (connection, balance) through the exchange gateway."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

import redis
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.brokers.api.serializers import (
    BalanceSerializer,
    BrokerSerializer,
    ConnectionTestSerializer,
    GatewayErrorSerializer,
)
from apps.brokers.api.services import broker_delete, broker_save
from apps.brokers.models import Broker
from apps.core.api.scoping import OwnedRowsMixin
from apps.core.gateway_client import GatewayClient
from apps.core.redis_client import redis_sync
from trading.errors import TemporaryError, TradingError
from trading.numbers import decimal_text

T = TypeVar("T")

GATEWAY_ERRORS = {
    502: OpenApiResponse(GatewayErrorSerializer, description="the exchange refused (keys, permissions, …)"),
    503: OpenApiResponse(GatewayErrorSerializer, description="the gateway or the exchange did not answer in time"),
}


def api_gateway_timeout() -> float:
    """A person is waiting: a few seconds, never longer than the gateway's own timeout."""
    return float(min(5, settings.GATEWAY_TIMEOUT_SECONDS))


def _gateway_call(call: Callable[[GatewayClient], T]) -> T | Response:
    """Run one gateway call; a gateway that is down is a 503, an exchange that refuses a 502."""
    client = redis_sync()
    try:
        return call(GatewayClient(client, timeout_seconds=api_gateway_timeout()))
    except redis.RedisError as exc:
        message = f"Redis is unreachable, the exchange gateway cannot be asked: {exc}"
        return Response({"message": message, "error_kind": "unavailable"}, status=503)
    except TemporaryError as exc:
        return Response({"message": str(exc), "error_kind": "unavailable"}, status=503)
    except TradingError as exc:
        return Response({"message": str(exc), "error_kind": type(exc).__name__}, status=502)
    finally:
        client.close()


@extend_schema_view(
    list=extend_schema(summary="Your brokers (exchange accounts)"),
    retrieve=extend_schema(summary="One broker"),
    create=extend_schema(summary="Add a broker; credentials are stored encrypted and never returned"),
    update=extend_schema(summary='Change a broker; a credential left out is kept, one sent as "" cleared'),
    partial_update=extend_schema(summary="Change some of a broker's fields"),
    destroy=extend_schema(
        summary="Delete a broker with its positions and orders (refused while a position is open)",
        responses={204: None, 409: OpenApiResponse(GatewayErrorSerializer, description="open positions")},
    ),
)
class BrokerViewSet(OwnedRowsMixin[Broker], viewsets.ModelViewSet):
    """The signed-in user's brokers."""

    model = Broker
    serializer_class = BrokerSerializer
    filterset_class = None

    def get_queryset(self) -> QuerySet[Broker]:
        return self.owned().order_by("id")

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = broker_save(
            broker=Broker(user=cast(Any, self.request.user)), data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Broker)
        serializer.instance = broker_save(broker=serializer.instance, data=dict(serializer.validated_data))

    def perform_destroy(self, instance: Broker) -> None:
        broker_delete(broker=instance)

    @extend_schema(
        summary="Check the broker's keys: the exchange is asked for a balance through the gateway",
        request=None,
        responses={200: ConnectionTestSerializer, **GATEWAY_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request: Request, pk: str | None = None) -> Response:
        broker = self.get_object()
        answer = _gateway_call(lambda gateway: gateway.test_connection(broker.pk))
        if isinstance(answer, Response):
            return answer
        return Response(ConnectionTestSerializer(answer).data)

    @extend_schema(
        summary="The broker's balances, read from the exchange through the gateway",
        responses={200: BalanceSerializer, **GATEWAY_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def balance(self, request: Request, pk: str | None = None) -> Response:
        broker = self.get_object()
        answer = _gateway_call(lambda gateway: gateway.balance(broker.pk))
        if isinstance(answer, Response):
            return answer
        currencies = sorted(set(answer.free) | set(answer.total))
        lines = [
            {
                "currency": c,
                "free": decimal_text(answer.free_of(c)),
                "total": decimal_text(answer.total.get(c, Decimal(0))),
            }
            for c in currencies
            if answer.total.get(c) or answer.free.get(c)
        ]
        return Response(BalanceSerializer({"broker": broker.pk, "balances": lines}).data)
