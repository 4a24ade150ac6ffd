"""Routes for monitors: health and metrics."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
