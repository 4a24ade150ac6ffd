"""URL routes: admin, the REST API, health and metrics, and the built dashboard."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("aristobot.api_urls")),
    path("", include("apps.core.urls")),
    # The dashboard's routes come last: every path not matched above is the Vue app's.
    path("", include("aristobot.spa_urls")),
]
