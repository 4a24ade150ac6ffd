"""Routes for monitors: health and metrics."""

from django.urls import URLPattern, path

from apps.core import views

urlpatterns: list[URLPattern] = [
    path("health/", views.health, name="health"),
    path("metrics", views.metrics, name="metrics"),
]
