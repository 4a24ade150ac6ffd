"""WebSocket routes (mounted by aristobot/asgi.py)."""

from django.urls import path

from apps.webhooks.push.consumer import PushConsumer

websocket_urlpatterns = [path("ws/webhooks/", PushConsumer.as_asgi())]
