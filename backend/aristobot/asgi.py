"""ASGI entrypoint served by Daphne: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aristobot.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from apps.core.liveness import web_liveness_start  # noqa: E402
from apps.webhooks.push.routing import websocket_urlpatterns  # noqa: E402

# In development Daphne serves the static files itself (admin styles, the built app).
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app
# WebSockets: the browser's Origin must be one of ALLOWED_HOSTS; the session cookie says who it is.
websocket_app = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
application = ProtocolTypeRouter({"http": http_app, "websocket": websocket_app})

# Under daphne, this process says it is alive (Redis `proc:web:…`, see apps/core/liveness.py).
web_liveness_start()
