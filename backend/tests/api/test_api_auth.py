"""Session sign-in for the dashboard, CSRF included, and its throttling (django-axes) with the admin's."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import F
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


@pytest.fixture(autouse=True)
def _few_failures_allowed(settings) -> None:
    """3 instead of 10: the same rules, with fewer (slow, hashed) wrong passwords to type."""
    settings.AXES_FAILURE_LIMIT = 3


ALICE_HOME = "198.51.100.7"
ATTACKER = "203.0.113.5"


def _sign_in(username: str, password: str, address: str, **headers: Any) -> int:
    answer = APIClient().post(
        "/api/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=address, **headers
    )
    if answer.status_code == 429:
        assert "Too many wrong passwords" in answer.json()["message"]
    return answer.status_code


def _guess_until_locked(username: str, address: str, **headers: Any) -> list[int]:
    from django.conf import settings

    return [_sign_in(username, f"guess-{n}", address, **headers) for n in range(settings.AXES_FAILURE_LIMIT)]


def test_wrong_passwords_lock_the_guessing_address_not_the_user_at_home(alice) -> None:
    answers = _guess_until_locked("alice", ATTACKER)

    assert answers[:-1] == [400] * (len(answers) - 1) and answers[-1] == 429
    assert _sign_in("alice", "alice-password", ATTACKER) == 429  # the right password too, from there
    assert _sign_in("alice", "alice-password", ALICE_HOME) == 200


def test_the_stranger_guessing_many_usernames_from_one_address_is_stopped(alice, bob, charlie) -> None:
    from django.conf import settings

    names = ["alice", "bob", "admin", "root"] * settings.AXES_FAILURE_LIMIT
    answers = [_sign_in(name, "password123", ATTACKER) for name in names[: settings.AXES_FAILURE_LIMIT]]

    assert answers[-1] == 429
    assert _sign_in("charlie", "charlie-password", ATTACKER) == 429
    assert _sign_in("bob", "bob-password", ALICE_HOME) == 200


def test_admin_login_is_throttled_too(alice) -> None:
    from django.conf import settings
    from django.test import Client

    alice.is_staff = True
    alice.save()
    client = Client()
    statuses = [
        client.post(
            "/admin/login/?next=/admin/", {"username": "alice", "password": f"guess-{n}"}, REMOTE_ADDR=ATTACKER
        ).status_code
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]

    assert statuses[:-1] == [200] * (len(statuses) - 1) and statuses[-1] == 429  # 200: the form again
    locked = client.post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": "alice-password"}, REMOTE_ADDR=ATTACKER
    )
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.content.decode()
    home = Client().post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": "alice-password"}, REMOTE_ADDR=ALICE_HOME
    )
    assert home.status_code == 302


def test_failures_behind_the_trusted_proxy_count_the_client_not_the_proxy(alice, settings) -> None:
    settings.WEBHOOK_TRUSTED_PROXIES = ["127.0.0.1"]

    answers = _guess_until_locked("alice", "127.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)

    assert answers[-1] == 429
    assert _sign_in("alice", "alice-password", "127.0.0.1", HTTP_X_FORWARDED_FOR=ALICE_HOME) == 200


def test_a_forged_forwarded_for_from_an_untrusted_address_does_not_escape_the_lock(alice, settings) -> None:
    settings.WEBHOOK_TRUSTED_PROXIES = ["127.0.0.1"]
    forged = [f"192.0.2.{n}" for n in range(settings.AXES_FAILURE_LIMIT + 1)]

    answers = [
        _sign_in("alice", "guess", ATTACKER, HTTP_X_FORWARDED_FOR=address)
        for address in forged[: settings.AXES_FAILURE_LIMIT]
    ]

    assert answers[-1] == 429
    assert _sign_in("alice", "alice-password", ATTACKER, HTTP_X_FORWARDED_FOR=forged[-1]) == 429


def test_a_lockout_ends_after_the_cool_off(alice) -> None:
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.conf import settings

    _guess_until_locked("alice", ATTACKER)
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - timedelta(hours=settings.AXES_COOLOFF_TIME, seconds=1)
    )

    assert _sign_in("alice", "alice-password", ATTACKER) == 200


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


def test_the_stranger_cannot_reset_his_count_by_signing_in_to_his_own_account(alice, charlie) -> None:
    from django.conf import settings

    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in("alice", f"guess-{n}", ATTACKER) == 400
    assert _sign_in("charlie", "charlie-password", ATTACKER) == 200

    assert _sign_in("alice", "one-more-guess", ATTACKER) == 429


# --- An IPv6 subscriber holds a /64: its addresses count as one --------------------------------


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("203.0.113.5", "203.0.113.5"),
        ("", ""),
    ],
)
def test_failures_count_against_an_ipv6_addresses_64(address: str, counted_as: str) -> None:
    from apps.core.api.auth import throttled_address

    assert throttled_address(address) == counted_as


def test_guessing_from_ever_new_addresses_of_one_ipv6_64_is_stopped(alice) -> None:
    from django.conf import settings

    answers = [
        _sign_in("alice", f"guess-{n}", f"2001:db8:bad:1::{n + 1:x}") for n in range(settings.AXES_FAILURE_LIMIT)
    ]

    assert answers[-1] == 429
    assert _sign_in("alice", "alice-password", "2001:db8:bad:1:ffff::1") == 429
    assert _sign_in("alice", "alice-password", "2001:db8:bad:2::1") == 200  # the next /64: another subscriber


# --- Per username: a botnet is stopped, the user at home is not --------------------------------

USERNAME_LIMIT = 5


@pytest.fixture
def username_limit(settings) -> None:
    settings.SIGN_IN_USERNAME_FAILURE_LIMIT = USERNAME_LIMIT


def _botnet_guesses(username: str, count: int = USERNAME_LIMIT) -> list[int]:
    """One wrong password from each of `count` new addresses: no address reaches its own limit."""
    return [_sign_in(username, f"guess-{n}", f"192.0.2.{n + 10}") for n in range(count)]


def _username_locked_message(address: str) -> str:
    answer = APIClient().post(
        "/api/auth/login/", {"username": "alice", "password": "alice-password"}, format="json", REMOTE_ADDR=address
    )
    assert answer.status_code == 429
    return answer.json()["message"]


def test_guessing_one_username_from_many_addresses_is_stopped_at_the_username_limit(alice, username_limit) -> None:
    assert _botnet_guesses("alice") == [400] * USERNAME_LIMIT

    assert _sign_in("alice", "guess-from-a-new-bot", "192.0.2.200") == 429
    assert "for this username" in _username_locked_message("192.0.2.201")  # the right password too


def test_the_username_limit_spares_addresses_the_user_signed_in_from(alice, username_limit) -> None:
    assert _sign_in("alice", "alice-password", ALICE_HOME) == 200
    _botnet_guesses("alice")

    assert _sign_in("alice", "alice-password", ALICE_HOME) == 200


def test_the_username_limit_spares_the_users_whole_ipv6_64(alice, username_limit) -> None:
    assert _sign_in("alice", "alice-password", "2001:db8:a11c:e::1") == 200
    _botnet_guesses("alice")

    assert _sign_in("alice", "alice-password", "2001:db8:a11c:e:1234::99") == 200  # a new privacy address


def test_the_username_limit_locks_that_username_only(alice, bob, username_limit) -> None:
    _botnet_guesses("alice")

    assert _sign_in("bob", "bob-password", "192.0.2.200") == 200


def test_the_username_limit_ends_after_the_cool_off(alice, username_limit) -> None:
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.conf import settings

    _botnet_guesses("alice")
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - timedelta(hours=settings.AXES_COOLOFF_TIME, seconds=1)
    )

    assert _sign_in("alice", "alice-password", "192.0.2.200") == 200


def test_the_admin_login_has_the_username_limit_too(alice, username_limit) -> None:
    from django.test import Client

    alice.is_staff = True
    alice.save()
    _botnet_guesses("alice")

    answer = Client().post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": "alice-password"}, REMOTE_ADDR="192.0.2.200"
    )
    assert answer.status_code == 429 and "for this username" in answer.content.decode()
