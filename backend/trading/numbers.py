"""Decimal helpers shared by the domain: parsing without floats, and plain text for messages."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_DIGITS = re.compile(r"[0-9]+")
ID_MAX = 2**63 - 1  # the largest database id (bigint)
# What the records hold (MONEY: 32 digits, 12 of them decimals) and what an exchange could price:
# prices and amounts below 10^15 and not finer than 10^-12.
NUMBER_PLACES = 12
NUMBER_MAX = Decimal(10) ** 15
NUMBER_MIN = Decimal(1).scaleb(-NUMBER_PLACES)


def decimal_from(value: object) -> Decimal | None:
    """A finite Decimal from a str, int, float or Decimal (floats through str()); None when not a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):  # ValueError: str() of an int beyond 4,300 digits
        return None
    return number if number.is_finite() else None


def id_from(value: object) -> int | None:
    """A positive database id from untrusted text or int; None otherwise. ASCII digits only:
    str.isdigit() accepts "²", which int() refuses."""
    if isinstance(value, bool):
        return None
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= ID_MAX else None


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 40000, 0.00001, 0.12487."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def money_text(value: Decimal) -> str:
    """A quote amount for messages: at least two decimals (3.20, 5005.00) but never hiding digits."""
    text = decimal_text(value)
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def number_shown(number: Decimal) -> str:
    """A number for a message: plain when short, else in scientific notation (1.234568E+39)."""
    text = decimal_text(number) if abs(number.adjusted()) < 40 else ""
    return text if text and len(text) <= 40 else f"{number:.6E}"
