"""The `period` parameter (24h, 7d, 30d) and the `broker_id` parameter, checked with a 400 naming them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework.exceptions import ValidationError

from trading.numbers import id_from

PERIODS: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def period_parse(value: str | None, *, default: str = "24h", name: str = "period") -> tuple[datetime, datetime]:
    """(start, end) of a period ending now; ValidationError naming `name` when the value is unknown."""
    key = default if value in (None, "") else value
    if key not in PERIODS:
        raise ValidationError({name: [f"must be one of {', '.join(PERIODS)}, got {value!r}"]})
    end = timezone.now()
    return end - PERIODS[key], end


def id_parse(value: str | None, *, name: str) -> int | None:
    """An optional positive integer id from a query parameter; ValidationError naming `name` otherwise."""
    if value in (None, ""):
        return None
    assert value is not None
    number = id_from(value)
    if number is None:
        raise ValidationError({name: [f"must be a positive integer id, got {value!r}"]})
    return number
