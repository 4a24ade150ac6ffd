"""Session sign-in for the dashboard, CSRF included."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _csrf_client() -> tuple[APIClient, str]:
    """A client that checks CSRF as a browser would, with the token the API handed it."""
    client = APIClient(enforce_csrf_checks=True)
    answer = client.get("/api/auth/csrf/")
    assert answer.status_code == 200
    token = answer.cookies["csrftoken"].value
    assert answer.json()["csrftoken"]
    return client, token


def test_login_with_the_csrf_token_signs_in_and_answers_the_user(alice) -> None:
    client, token = _csrf_client()

    answer = client.post(
        "/api/auth/login/", {"username": "alice", "password": "alice-password"}, format="json", HTTP_X_CSRFTOKEN=token
    )

    assert answer.status_code == 200
    assert answer.json() == {
        "id": alice.pk,
        "username": "alice",
        "email": "",
        "first_name": "",
        "last_name": "",
        "is_staff": False,
    }
    assert client.get("/api/auth/me/").json()["username"] == "alice"
    assert client.get("/api/webhooks/").status_code == 200


def test_login_without_the_csrf_token_is_refused(alice) -> None:
    client, _token = _csrf_client()

    answer = client.post("/api/auth/login/", {"username": "alice", "password": "alice-password"}, format="json")

    assert answer.status_code == 403
    assert "CSRF" in answer.json()["message"]
    assert client.get("/api/auth/me/").status_code == 403


def test_signed_in_post_without_the_csrf_token_is_refused(alice) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    answer = client.post("/api/webhook-tokens/", {"label": "x"}, format="json")

    assert answer.status_code == 403 and "CSRF" in answer.json()["message"]
    assert not alice.webhook_tokens.exists()


def test_signed_in_post_with_the_csrf_token_is_accepted(alice, redis_url) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    token = client.get("/api/auth/me/").cookies["csrftoken"].value

    answer = client.post("/api/webhook-tokens/", {"label": "x"}, format="json", HTTP_X_CSRFTOKEN=token)

    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("nobody", "alice-password"), ("alice", ""), ("", "")]
)
def test_bad_credentials_are_a_400_with_a_message(alice, username, password) -> None:
    answer = APIClient().post("/api/auth/login/", {"username": username, "password": password}, format="json")

    assert answer.status_code == 400
    assert answer.json()["message"]
    assert APIClient().get("/api/auth/me/").status_code == 403


def test_inactive_user_cannot_sign_in(alice) -> None:
    alice.is_active = False
    alice.save()

    answer = APIClient().post("/api/auth/login/", {"username": "alice", "password": "alice-password"}, format="json")

    assert answer.status_code == 400 and answer.json()["message"] == "Wrong username or password."


def test_logout_ends_the_session(alice) -> None:
    client = APIClient()
    client.post("/api/auth/login/", {"username": "alice", "password": "alice-password"}, format="json")
    assert client.get("/api/auth/me/").status_code == 200

    assert client.post("/api/auth/logout/").status_code == 204
    answer = client.get("/api/auth/me/")

    assert answer.status_code == 403 and answer.json()["message"]


def test_logout_without_the_csrf_token_is_refused(alice) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.post("/api/auth/logout/").status_code == 403
    assert client.get("/api/auth/me/").status_code == 200


def test_login_body_that_is_not_json_is_a_400() -> None:
    answer = APIClient().post("/api/auth/login/", "{not json", content_type="application/json")

    assert answer.status_code == 400 and answer.json()["message"]


@pytest.fixture
def real_cache(redis_url, settings):
    """The production cache: Redis, shared by every process (the settings fixture resets the handler)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}


def test_ten_wrong_passwords_lock_that_username_but_not_another(alice, bob, real_cache) -> None:
    from apps.core.api.auth import LOGIN_FAILURES_ALLOWED

    client = APIClient()
    for _ in range(LOGIN_FAILURES_ALLOWED):
        wrong = client.post("/api/auth/login/", {"username": "alice", "password": "guess"}, format="json")
        assert wrong.status_code == 400

    locked = client.post("/api/auth/login/", {"username": "Alice", "password": "alice-password"}, format="json")
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.json()["message"]
    assert (
        client.post("/api/auth/login/", {"username": "bob", "password": "bob-password"}, format="json").status_code
        == 200
    )


def test_sign_in_still_works_when_the_cache_is_down(alice, settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    client = APIClient()
    assert client.post("/api/auth/login/", {"username": "alice", "password": "x"}, format="json").status_code == 400
    answer = client.post("/api/auth/login/", {"username": "alice", "password": "alice-password"}, format="json")
    assert answer.status_code == 200
