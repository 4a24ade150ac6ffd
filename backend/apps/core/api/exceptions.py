"""Every API error is JSON with a `message`: DRF's errors, Django's, and the unexpected ones."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def _first_message(errors: Any) -> str:
    """The first message in DRF's nested error structure."""
    if isinstance(errors, dict):
        for value in errors.values():
            return _first_message(value)
        return ""
    if isinstance(errors, list):
        return _first_message(errors[0]) if errors else ""
    return str(errors)


def validation_message(errors: Any) -> str:
    """One line naming each bad field or parameter: `symbol: This field is required.; period: …`."""
    if isinstance(errors, dict):
        parts = [
            _first_message(value) if key == "non_field_errors" else f"{key}: {_first_message(value)}"
            for key, value in errors.items()
        ]
        return "; ".join(parts) or "invalid request"
    return _first_message(errors) or "invalid request"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, then a `message` on every body; unexpected errors become a logged 500 JSON."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unexpected error in %s", context.get("view").__class__.__name__)
        return Response({"message": "internal error: the server logged the details"}, status=500)
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"message": validation_message(exc.detail), "errors": exc.detail}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"message": str(response.data["detail"]), **response.data}
    else:
        response.data = {"message": _first_message(response.data) or "error", "errors": response.data}
    return response


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """A 404 for a path under /api/ that names no endpoint: JSON, not the dashboard's page."""
    return JsonResponse(
        {"message": f"no API endpoint at {request.path}", "detail": "Not found."}, status=status.HTTP_404_NOT_FOUND
    )
