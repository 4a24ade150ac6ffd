"""REST views of alerts, positions, orders and webhook tokens; every query is the signed-in user's."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.core.api.periods import PERIODS, id_parse, period_parse
from apps.core.api.scoping import OwnedRowsMixin
from apps.webhooks.api.filters import OrderFilter, WebhookFilter, WebhookStateFilter
from apps.webhooks.api.serializers import (
    OrderSerializer,
    PositionSummarySerializer,
    WebhookDetailSerializer,
    WebhookSerializer,
    WebhookStateSerializer,
    WebhookStatsSerializer,
    WebhookTokenCreatedSerializer,
    WebhookTokenSerializer,
)
from apps.webhooks.api.stats import position_summary, webhook_stats
from apps.webhooks.models import Order, PositionStatus, Webhook, WebhookState, WebhookToken
from apps.webhooks.tokens import token_create, token_revoke, token_webhook_url

RECENT_COUNT = 20
BROKER_ID = OpenApiParameter("broker_id", int, description="only this broker's")
PERIOD = OpenApiParameter("period", str, enum=list(PERIODS), description="24h (default), 7d or 30d")


@extend_schema_view(
    list=extend_schema(summary="Alerts received, newest first, 20 a page"),
    retrieve=extend_schema(summary="One alert with the orders it caused"),
)
class WebhookViewSet(OwnedRowsMixin[Webhook], viewsets.ReadOnlyModelViewSet):
    """Alerts (TradingView webhooks) of the signed-in user."""

    model = Webhook
    filterset_class = WebhookFilter

    def get_queryset(self) -> QuerySet[Webhook]:
        rows = self.owned().select_related("user", "broker")
        if self.action == "retrieve":
            orders = Order.objects.select_related("broker").order_by("created_at", "id")
            rows = rows.prefetch_related(Prefetch("orders", queryset=orders))
        return rows

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return WebhookDetailSerializer if self.action == "retrieve" else WebhookSerializer

    @extend_schema(
        summary=f"The last {RECENT_COUNT} alerts", parameters=[BROKER_ID], responses=WebhookSerializer(many=True)
    )
    @action(detail=False, filterset_class=None, pagination_class=None)
    def recent(self, request: Request) -> Response:
        rows = self.get_queryset()
        broker_id = id_parse(request.query_params.get("broker_id"), name="broker_id")
        if broker_id is not None:
            rows = rows.filter(broker_id=broker_id)
        page = rows.order_by("-received_at", "-id")[:RECENT_COUNT]
        return Response(WebhookSerializer(page, many=True).data)

    @extend_schema(
        summary="Counts of the alerts received in a period",
        parameters=[PERIOD, BROKER_ID],
        responses=WebhookStatsSerializer,
    )
    @action(detail=False, filterset_class=None, pagination_class=None)
    def stats(self, request: Request) -> Response:
        start, end = period_parse(request.query_params.get("period"))
        broker_id = id_parse(request.query_params.get("broker_id"), name="broker_id")
        stats = webhook_stats(user=request.user, start=start, end=end, broker_id=broker_id)
        return Response(WebhookStatsSerializer(stats).data)


@extend_schema_view(
    list=extend_schema(summary="Positions opened by alerts, newest first, 20 a page"),
    retrieve=extend_schema(summary="One position"),
)
class WebhookStateViewSet(OwnedRowsMixin[WebhookState], viewsets.ReadOnlyModelViewSet):
    """Positions (WebhookState) of the signed-in user."""

    model = WebhookState
    serializer_class = WebhookStateSerializer
    filterset_class = WebhookStateFilter

    def get_queryset(self) -> QuerySet[WebhookState]:
        return self.owned().select_related("user", "broker")

    @extend_schema(summary="Every open position (not paged)", responses=WebhookStateSerializer(many=True))
    @action(detail=False, pagination_class=None)
    def open(self, request: Request) -> Response:
        rows = self.filter_queryset(self.get_queryset()).filter(status=PositionStatus.OPEN)
        return Response(WebhookStateSerializer(rows, many=True).data)

    @extend_schema(summary="Open positions at a glance", responses=PositionSummarySerializer)
    @action(detail=False, pagination_class=None)
    def summary(self, request: Request) -> Response:
        rows = self.filter_queryset(self.owned())
        return Response(PositionSummarySerializer(position_summary(positions=rows)).data)


@extend_schema_view(
    list=extend_schema(summary="Orders sent, newest first, 20 a page"), retrieve=extend_schema(summary="One order")
)
class OrderViewSet(OwnedRowsMixin[Order], viewsets.ReadOnlyModelViewSet):
    """Orders sent for the signed-in user's alerts and positions."""

    model = Order
    serializer_class = OrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        return self.owned().select_related("broker")


@extend_schema_view(
    list=extend_schema(summary="Webhook tokens (prefix only: a token is shown once, when created)"),
    retrieve=extend_schema(summary="One webhook token (prefix only)"),
    create=extend_schema(
        summary="Issue a token: the answer is the only time it is shown, with the ready webhook URL",
        request=WebhookTokenSerializer,
        responses={201: WebhookTokenCreatedSerializer},
    ),
    destroy=extend_schema(summary="Revoke a token (kept in the list with revoked_at)", responses={204: None}),
)
class WebhookTokenViewSet(
    OwnedRowsMixin[WebhookToken],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's webhook tokens; receivers refuse a revoked one within a second."""

    model = WebhookToken
    serializer_class = WebhookTokenSerializer
    filterset_class = None

    def get_queryset(self) -> QuerySet[WebhookToken]:
        return self.owned().order_by("-created_at", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = WebhookTokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        record, plain = token_create(user=request.user, label=form.validated_data.get("label", ""))  # type: ignore[arg-type]
        record.token = plain  # type: ignore[attr-defined]
        record.webhook_url = token_webhook_url(plain)  # type: ignore[attr-defined]
        return Response(WebhookTokenCreatedSerializer(record).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Revoke a token; answers it with revoked_at", request=None, responses=WebhookTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        token = self.get_object()
        token_revoke(token=token)
        return Response(WebhookTokenSerializer(token).data)
