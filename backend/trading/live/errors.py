"""The one translation from ccxt's exceptions to the domain's errors."""

from __future__ import annotations

import re
from collections.abc import Iterable

import ccxt

from trading.errors import (
    AuthenticationFailed,
    ConfigurationError,
    DuplicateOrder,
    ExchangeRejected,
    InsufficientFunds,
    OrderInvalid,
    OrderNotFound,
    TemporaryError,
    TradingError,
)

_SIGNATURE = re.compile(r"(signature|apiKey|api_key|secret|passphrase|password)=[^&\s\"']+", re.IGNORECASE)


def scrub(message: str, secrets: Iterable[str]) -> str:
    """The message without any credential or request signature, safe to record and show."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    return _SIGNATURE.sub(lambda m: f"{m.group(1)}=***", message)


def _retry_after(exc: Exception, header: str | None) -> float | None:
    for text in (header, str(exc)):
        match = re.search(r"(?:retry[- ]after\D{0,5})?(\d+(?:\.\d+)?)", text or "", re.IGNORECASE)
        if match and (text is header or "retry" in (text or "").lower()):
            return min(60.0, float(match.group(1)))
    return None


# Answers that mean the keys are wrong whatever exception class ccxt chose (Binance -2014/-2015
# can come back as DDoSProtection once a client has made a successful private call).
_KEY_REFUSED = ("-2014", "-2015", "Invalid API-key", "API-key format invalid")


def ccxt_error(
    exc: Exception, *, broker_label: str, secrets: Iterable[str] = (), retry_after: str | None = None
) -> TradingError:
    """The domain error for a ccxt exception, with a message that names the broker and never a key."""
    message = scrub(str(exc), secrets)[:500]
    if isinstance(exc, TradingError):
        return exc
    if isinstance(exc, ccxt.ExchangeError | ccxt.NetworkError) and any(mark in message for mark in _KEY_REFUSED):
        return AuthenticationFailed(f"the exchange refused the API keys of broker {broker_label}: {message}")
    if isinstance(exc, ccxt.InvalidOrder) and "Duplicate order" in message:  # Binance -2010
        return DuplicateOrder(message)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(f"insufficient balance on {broker_label}: {message}")
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(message)
    if isinstance(exc, ccxt.DuplicateOrderId):
        return DuplicateOrder(message)
    if isinstance(exc, ccxt.AuthenticationError):  # includes PermissionDenied, AccountSuspended
        return AuthenticationFailed(f"the exchange refused the API keys of broker {broker_label}: {message}")
    if isinstance(exc, ccxt.InvalidNonce):  # the clock is off: retrying after a resync can work
        return TemporaryError(f"{broker_label}: request time rejected ({message})")
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return TemporaryError(f"{broker_label}: rate limited ({message})", retry_after=_retry_after(exc, retry_after))
    if isinstance(exc, (ccxt.NetworkError, ccxt.BadResponse, ccxt.CancelPending)):
        return TemporaryError(f"{broker_label}: exchange unreachable or busy ({message})")
    if isinstance(exc, ccxt.BadSymbol):
        return OrderInvalid(f"{broker_label}: {message}")
    if isinstance(exc, ccxt.InvalidOrder):
        return ExchangeRejected(f"order refused by {broker_label}: {message}")
    if isinstance(exc, ccxt.NotSupported):
        return ConfigurationError(f"{broker_label}: {message}")
    if isinstance(exc, ccxt.ExchangeError):
        return ExchangeRejected(f"{broker_label}: {message}")
    return TradingError(f"{broker_label}: unexpected {type(exc).__name__}: {message}")
