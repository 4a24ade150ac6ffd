"""Session sign-in for the dashboard: login, logout, who am I, and the CSRF cookie.

DRF's SessionAuthentication checks CSRF only for signed-in users; login and logout check it
themselves, so that another site cannot sign a browser in or out. Wrong passwords are counted
by django-axes per client address, here and on /admin/login/ alike (settings AXES_*): after
AXES_FAILURE_LIMIT within AXES_COOLOFF_TIME that address is refused (429) until the cool-off
has passed, while the user can still sign in from their own address.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
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


def client_ip(request: HttpRequest) -> str:
    """The client's address for axes: X-Forwarded-For believed only from WEBHOOK_TRUSTED_PROXIES,
    as the receiver does (behind the TLS proxy every request would otherwise share its address)."""
    from apps.webhooks.receiver.limits import AddressPolicy

    policy = AddressPolicy(trusted_proxies=settings.WEBHOOK_TRUSTED_PROXIES)
    return policy.client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def lockout_message() -> str:
    cooloff = timedelta(hours=float(settings.AXES_COOLOFF_TIME))
    minutes = max(1, round(cooloff.total_seconds() / 60))
    return f"Too many wrong passwords from your address: try again in {minutes} minutes."


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """What axes answers to a locked-out address: JSON for the API, a plain page for the admin."""
    if request.path.startswith("/api/"):
        return JsonResponse({"message": lockout_message()}, status=429)
    return HttpResponse(lockout_message(), status=429, content_type="text/plain; charset=utf-8")


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
            429: OpenApiResponse(MessageSerializer, description="too many wrong passwords from this address"),
        },
    )
    def post(self, request: Request) -> Response:
        csrf_enforce(request)
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["username"]
        # axes (the first authentication backend) refuses a locked-out address and counts failures.
        user = authenticate(request._request, username=username, password=form.validated_data["password"])
        if getattr(request._request, "axes_locked_out", False):
            return Response({"message": lockout_message()}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if user is None:
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
