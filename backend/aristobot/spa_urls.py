"""Routes of the built Vue dashboard (frontend/dist), served by Django.

Included last: every path the API, the admin and the monitors did not claim is a dashboard
route, except /static/ (a missing static file stays a 404) and /ws/ (WebSockets only).
"""

from django.urls import URLPattern, re_path

from aristobot.spa import spa_index

urlpatterns: list[URLPattern] = [
    re_path(r"^(?!(?:api|admin|static|ws)(?:/|$))(?P<path>.*)$", spa_index, name="spa"),
]
