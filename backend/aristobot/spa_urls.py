"""Routes of the built Vue dashboard (frontend/dist), served by Django."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
