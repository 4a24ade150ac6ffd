"""Session sign-in for the dashboard: login, logout, who am I, and the CSRF cookie.

DRF's SessionAuthentication checks CSRF only for signed-in users; login and logout check it
themselves, so that another site cannot sign a browser in or out. Wrong passwords are counted
per username: after LOGIN_FAILURES_ALLOWED in LOGIN_LOCK_SECONDS, that username is refused
(429) until the window has passed, so a password cannot be guessed by trying many.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.core.cache import cache
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

MessageSerializer = inline_serializer("Message", {"message": serializers.CharField()})
LOGIN_FAILURES_ALLOWED = 10
LOGIN_LOCK_SECONDS = 15 * 60


def _failures_key(username: str) -> str:
    return "login-failures:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def login_failures(username: str) -> int:
    """Wrong passwords given for this username in the current window (0 when the cache is down)."""
    try:
        return int(cache.get(_failures_key(username), 0))
    except Exception as exc:  # the cache (Redis) is down: sign-in still works
        logger.warning("login failure count unavailable: %s", exc)
        return 0


def login_failure_record(username: str) -> None:
    key = _failures_key(username)
    try:
        if not cache.add(key, 1, timeout=LOGIN_LOCK_SECONDS):
            cache.incr(key)
    except Exception as exc:
        logger.warning("login failure not counted: %s", exc)


class UserSerializer(serializers.Serializer):
    """The signed-in user, as the dashboard shows it."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    is_staff = serializers.BooleanField(read_only=True)


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, write_only=True, trim_whitespace=False)


def csrf_enforce(request: Request) -> None:
    """Refuse an unsafe request without a valid CSRF token, signed in or not (403 JSON)."""
    SessionAuthentication().enforce_csrf(request)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(APIView):
    """Sets the `csrftoken` cookie; the dashboard sends it back in `X-CSRFToken`."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_csrf",
        responses=inline_serializer("CsrfToken", {"csrftoken": serializers.CharField()}),
    )
    def get(self, request: Request) -> Response:
        return Response({"csrftoken": get_token(request)})


class LoginView(APIView):
    """Sign in with username and password; starts a session (cookie) and answers the user."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_login",
        request=LoginSerializer,
        responses={
            200: UserSerializer,
            400: OpenApiResponse(MessageSerializer, description="wrong username or password"),
            403: OpenApiResponse(MessageSerializer, description="CSRF token missing or wrong"),
            429: OpenApiResponse(MessageSerializer, description="too many wrong passwords for this username"),
        },
    )
    def post(self, request: Request) -> Response:
        csrf_enforce(request)
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["username"]
        if login_failures(username) >= LOGIN_FAILURES_ALLOWED:
            minutes = LOGIN_LOCK_SECONDS // 60
            return Response(
                {"message": f"Too many wrong passwords for this username: try again in {minutes} minutes."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        user = authenticate(request._request, username=username, password=form.validated_data["password"])
        if user is None:
            login_failure_record(username)
            return Response({"message": "Wrong username or password."}, status=status.HTTP_400_BAD_REQUEST)
        login(request._request, user)
        return Response(UserSerializer(user).data)


class LogoutView(APIView):
    """End the session (harmless when already signed out)."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="auth_logout", request=None, responses={204: None, 403: MessageSerializer})
    def post(self, request: Request) -> Response:
        csrf_enforce(request)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class MeView(APIView):
    """The signed-in user (403 when signed out); also sets the `csrftoken` cookie."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", responses={200: UserSerializer, 403: MessageSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(UserSerializer(request.user).data)
