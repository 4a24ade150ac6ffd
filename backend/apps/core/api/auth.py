"""Session sign-in for the dashboard: login, logout, who am I, and the CSRF cookie.

DRF's SessionAuthentication checks CSRF only for signed-in users; login and logout check it
themselves, so that another site cannot sign a browser in or out.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
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

MessageSerializer = inline_serializer("Message", {"message": serializers.CharField()})


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
        },
    )
    def post(self, request: Request) -> Response:
        csrf_enforce(request)
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(
            request._request, username=form.validated_data["username"], password=form.validated_data["password"]
        )
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
