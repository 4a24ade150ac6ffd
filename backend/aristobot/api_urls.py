"""Routes of the REST API under /api/: sign-in, alerts, positions, orders, brokers, tokens, schema."""

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from apps.brokers.api.views import BrokerViewSet
from apps.core.api import auth
from apps.core.api.exceptions import api_not_found
from apps.webhooks.api.views import OrderViewSet, WebhookStateViewSet, WebhookTokenViewSet, WebhookViewSet

router = SimpleRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("webhook-states", WebhookStateViewSet, basename="webhook-state")
router.register("orders", OrderViewSet, basename="order")
router.register("brokers", BrokerViewSet, basename="broker")
router.register("webhook-tokens", WebhookTokenViewSet, basename="webhook-token")

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/csrf/", auth.CsrfView.as_view(), name="auth-csrf"),
    path("auth/login/", auth.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", auth.MeView.as_view(), name="auth-me"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
    # Anything else under /api/ is a JSON 404, never the dashboard's page.
    re_path(r"^.*$", api_not_found),
]
