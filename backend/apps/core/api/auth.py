"""Session sign-in for the dashboard: login, logout, who am I, and the CSRF cookie.

DRF's SessionAuthentication checks CSRF only for signed-in users; login and logout check it
themselves, so that another site cannot sign a browser in or out. Wrong passwords are counted
by django-axes, here and on /admin/login/ alike (settings AXES_*, docs/deployment.md):

- per client address (an IPv6 address counts as its /64): after AXES_FAILURE_LIMIT within
  AXES_COOLOFF_TIME that address is refused (429) until the cool-off has passed, while the user
  can still sign in from their own address;
- per username (`SignInThrottle`): after SIGN_IN_USERNAME_FAILURE_LIMIT within the cool-off, from
  any number of addresses, that username is refused (429) from every address that has never
  signed in as it, until the cool-off has passed; an address it signed in from before still can,
  so guessing from a botnet or a whole IPv6 prefix stops, and no stranger locks the user out.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.db.models import Sum
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
    as the receiver does (behind the TLS proxy every request would otherwise share its address),
    then `throttled_address`."""
    from apps.webhooks.receiver.limits import AddressPolicy

    policy = AddressPolicy(trusted_proxies=settings.WEBHOOK_TRUSTED_PROXIES)
    return throttled_address(
        policy.client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))
    )


def throttled_address(address: str) -> str:
    """The address failures are counted against: an IPv6 address as the first address of its /64
    (one subscriber holds at least a /64, 2^64 addresses), an IPv4-mapped one as IPv4."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip), 64), strict=False).network_address)
    return str(ip)


def username_locked(request: HttpRequest, credentials: dict[str, Any] | None) -> bool:
    """Whether this username is refused from this address: SIGN_IN_USERNAME_FAILURE_LIMIT wrong
    passwords for it within the cool-off (from any addresses), and no successful sign-in as it
    ever from this address. Marks the request so that the answer says which lock it is."""
    limit = int(getattr(settings, "SIGN_IN_USERNAME_FAILURE_LIMIT", 0) or 0)
    username = get_client_username(request, credentials)
    if limit <= 0 or not username:
        return False
    attempts = AccessAttempt.objects.filter(username=username)
    cooloff = get_cool_off(request)
    if cooloff is not None:
        attempts = attempts.filter(attempt_time__gte=request.axes_attempt_time - cooloff)  # type: ignore[attr-defined]
    failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
    if failures < limit:
        return False
    address = request.axes_ip_address  # type: ignore[attr-defined]
    if address and AccessLog.objects.filter(username=username, ip_address=address).exists():
        return False
    request.axes_username_locked = True  # type: ignore[attr-defined]
    return True


class SignInThrottle(AxesDatabaseHandler):
    """axes' database handler (per address, AXES_LOCKOUT_PARAMETERS) with the per-username lock
    of `username_locked` beside it (settings AXES_HANDLER)."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        return bool(super().is_locked(request, credentials)) or username_locked(request, credentials)

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and getattr(request, "axes_username_locked", False):
            request.axes_locked_out = True  # type: ignore[attr-defined]  # the middleware answers 429
            request.axes_credentials = credentials  # type: ignore[attr-defined]


def lockout_message(request: HttpRequest | None = None) -> str:
    cooloff = timedelta(hours=float(settings.AXES_COOLOFF_TIME))
    minutes = max(1, round(cooloff.total_seconds() / 60))
    if getattr(request, "axes_username_locked", False):
        return (
            "Too many wrong passwords for this username from addresses it never signed in from: try "
            f"again in {minutes} minutes, or from an address you have signed in from before."
        )
    return f"Too many wrong passwords from your address: try again in {minutes} minutes."


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """What axes answers to a lockout: JSON for the API, a plain page for the admin."""
    message = lockout_message(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"message": message}, status=429)
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


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
            429: OpenApiResponse(
                MessageSerializer, description="too many wrong passwords from this address, or for this username"
            ),
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
            return Response({"message": lockout_message(request._request)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
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
