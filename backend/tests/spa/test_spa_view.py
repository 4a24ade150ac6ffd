"""Django serves the built dashboard: index.html for its routes, a clear 503 before it is built."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from django.test import Client

INDEX = (
    b"<!doctype html><html><head><title>Aristobot</title></head>"
    b'<body><div id="app"></div><script src="/static/app/assets/index.js"></script></body></html>'
)
APP = b'<script src="/static/app/assets/index.js"></script>'


def user_meta(content: bytes) -> object:
    """The JSON in the page's `aristobot-user` meta tag."""
    text = content.decode()
    start = text.index('<meta name="aristobot-user" content="') + len('<meta name="aristobot-user" content="')
    return json.loads(html.unescape(text[start : text.index('">', start)]))


@pytest.fixture
def dist(tmp_path: Path, settings) -> Path:
    """A built dashboard in a temporary folder, set as settings.FRONTEND_DIST_DIR."""
    (tmp_path / "index.html").write_bytes(INDEX)
    settings.FRONTEND_DIST_DIR = tmp_path
    return tmp_path


@pytest.fixture
def no_dist(tmp_path: Path, settings) -> Path:
    """No build: the folder exists but holds no index.html."""
    settings.FRONTEND_DIST_DIR = tmp_path / "dist"
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/webhooks", "/webhooks/", "/brokers", "/orders?webhook=12", "/login"])
def test_dashboard_routes_answer_the_built_index(client: Client, dist: Path, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert APP in response.content


@pytest.mark.django_db
def test_index_is_never_cached_and_sets_the_csrf_cookie(client: Client, dist: Path) -> None:
    response = client.get("/webhooks")

    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "csrftoken" in response.cookies


@pytest.mark.django_db
def test_signed_out_page_says_nobody_is_signed_in(client: Client, dist: Path) -> None:
    response = client.get("/webhooks")

    assert user_meta(response.content) is None
    assert response.content.index(b"aristobot-user") < response.content.index(b"</head>")


@pytest.mark.django_db
def test_signed_in_page_carries_the_user_so_the_app_skips_a_request(client: Client, dist: Path, alice) -> None:
    alice.first_name = '"><script>alert(1)</script>'
    alice.save()
    client.force_login(alice)

    response = client.get("/webhooks")

    assert b"<script>alert(1)" not in response.content
    assert user_meta(response.content) == {
        "id": alice.pk,
        "username": "alice",
        "email": "",
        "first_name": '"><script>alert(1)</script>',
        "last_name": "",
        "is_staff": False,
    }


@pytest.mark.django_db
def test_missing_build_is_a_503_that_says_how_to_build(client: Client, no_dist: Path) -> None:
    response = client.get("/webhooks")

    assert response.status_code == 503
    text = response.content.decode()
    assert "make setup" in text
    assert "npm run build" in text


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nothing-here/", "/api/webhooks/"])
def test_api_paths_are_not_swallowed_by_the_dashboard(client: Client, dist: Path, path: str) -> None:
    response = client.get(path)

    assert APP not in response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.status_code in (403, 404)


@pytest.mark.django_db
def test_admin_is_not_swallowed_by_the_dashboard(client: Client, dist: Path) -> None:
    response = client.get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/static/app/assets/missing.js", "/ws/webhooks/", "/favicon.ico", "/webhooks/x.png"])
def test_files_static_and_websocket_paths_are_404_not_the_index(client: Client, dist: Path, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert APP not in response.content


@pytest.mark.django_db
def test_only_get_and_head_are_answered(client: Client, dist: Path) -> None:
    assert client.head("/webhooks").status_code == 200
    assert client.post("/webhooks").status_code in (403, 405)  # CSRF refuses first, or the method


def test_built_app_is_a_static_files_source_under_app(settings) -> None:
    from aristobot import settings as real

    if real.FRONTEND_DIST_DIR.is_dir():
        assert ("app", real.FRONTEND_DIST_DIR) in real.STATICFILES_DIRS
    else:
        assert real.STATICFILES_DIRS == []
