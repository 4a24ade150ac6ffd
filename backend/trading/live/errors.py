"""The one translation from ccxt's exceptions to the domain's errors.

A ccxt message carries the exchange's raw answer (its body, the URL called). That answer goes to
the server log only: the domain error says in our words what went wrong and what happens next,
with at most the exchange's own short reason and code taken from a JSON error answer. The trader
reads these messages on the dashboard; an address that is not the exchange's must not be able to
show the browser anything it answered.
"""

from __future__ import annotations

import json
import logging
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

logger = logging.getLogger(__name__)

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
_REASON_KEYS = ("msg", "message", "retMsg", "error_message", "err_msg", "error")
_CODE_KEYS = ("code", "retCode", "error_code", "err_code")
_REASON_TEXT = re.compile(r"^[\w .,:;'()/%+-]{1,160}$")
_CODE_TEXT = re.compile(r"^-?[\w.]{1,20}$")
_HTTP_STATUS = re.compile(r"\b(?:GET|POST|PUT|DELETE|PATCH) \S+ (\d{3})\b")
# The classes ccxt raises without having recognised the exchange's answer.
_GENERIC = (
    ccxt.BaseError,
    ccxt.ExchangeError,
    ccxt.OperationFailed,
    ccxt.NetworkError,
    ccxt.ExchangeNotAvailable,
    ccxt.BadResponse,
    ccxt.NullResponse,
)


def exchange_reason(message: str, *, plain: bool = False) -> str:
    """The exchange's own short reason and code, e.g. ` (exchange said: "Account has insufficient
    balance.", code -2010)`, from a JSON error answer or from ccxt's `<exchange id> <exchange's
    message>` when `plain` (ccxt matched that message to a specific error); "" for anything else
    (an HTML page, a URL, a long or odd text)."""
    start, end = message.find("{"), message.rfind("}")
    if start < 0 or end <= start:
        if not plain:
            return ""
        text = message.partition(" ")[2].strip()  # after ccxt's exchange id
        if _HTTP_STATUS.search(message) or "://" in text or not _REASON_TEXT.match(text):
            return ""
        return f' (exchange said: "{text}")'
    try:
        answer = json.loads(message[start : end + 1])
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    reason = next((v for k in _REASON_KEYS if isinstance(v := answer.get(k), str) and _REASON_TEXT.match(v)), "")
    code = next((str(v) for k in _CODE_KEYS if isinstance(v := answer.get(k), int | str) and v != ""), "")
    code = code if _CODE_TEXT.match(code) else ""
    parts = ([f'exchange said: "{reason.strip()}"'] if reason else []) + ([f"code {code}"] if code else [])
    return f" ({', '.join(parts)})" if parts else ""


def _http_status(message: str) -> str:
    match = _HTTP_STATUS.search(message)
    return f" (HTTP {match.group(1)})" if match else ""


def ccxt_error(
    exc: Exception, *, broker_label: str, secrets: Iterable[str] = (), retry_after: str | None = None
) -> TradingError:
    """The domain error for a ccxt exception: names the broker, never a key nor the raw answer (logged)."""
    if isinstance(exc, TradingError):
        return exc
    raw = str(exc)
    detail = scrub(raw, secrets)
    logger.info("exchange answer for broker %s: %s: %s", broker_label, type(exc).__name__, detail[:2000])
    # ccxt raises a specific class after matching the exchange's message or code; a generic class,
    # or any class chosen from the HTTP status alone (`<id> <method> <url> <status> …`), may carry
    # any answer from the address called: then no reason is taken from it, JSON or not.
    matched = type(exc) not in _GENERIC and not _HTTP_STATUS.search(raw)
    reason = exchange_reason(detail, plain=isinstance(exc, ccxt.ExchangeError)) if matched else ""
    label = broker_label
    if isinstance(exc, ccxt.ExchangeError | ccxt.NetworkError) and any(mark in raw for mark in _KEY_REFUSED):
        return AuthenticationFailed(
            f"the exchange refused the API keys of broker {label}: check the key, the secret, their "
            f"permissions and the key's IP restriction{reason}"
        )
    if isinstance(exc, ccxt.InvalidOrder) and "Duplicate order" in raw:  # Binance -2010
        return DuplicateOrder(f"{label}: an order with this client order id is already on the exchange{reason}")
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(f"insufficient balance on {label}{reason}")
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(f"{label}: the exchange has no such order{reason}")
    if isinstance(exc, ccxt.DuplicateOrderId):
        return DuplicateOrder(f"{label}: an order with this client order id is already on the exchange{reason}")
    if isinstance(exc, ccxt.AuthenticationError):  # includes PermissionDenied, AccountSuspended
        return AuthenticationFailed(
            f"the exchange refused the API keys of broker {label}: check the key, the secret, their "
            f"permissions and the key's IP restriction{reason}"
        )
    if isinstance(exc, ccxt.InvalidNonce):  # the clock is off: retrying after a resync can work
        return TemporaryError(f"{label}: the exchange refused the request time (is the clock right?){reason}")
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return TemporaryError(
            f"{label}: rate limited by the exchange{reason}", retry_after=_retry_after(exc, retry_after)
        )
    if isinstance(exc, ccxt.RequestTimeout):
        return TemporaryError(f"{label}: the exchange did not answer in time")
    if isinstance(exc, (ccxt.NetworkError, ccxt.BadResponse, ccxt.CancelPending)):
        return TemporaryError(f"{label}: exchange unreachable or busy{_http_status(detail)}")
    if isinstance(exc, ccxt.BadSymbol):
        return OrderInvalid(f"{label}: the exchange does not trade this symbol{reason}")
    if isinstance(exc, ccxt.InvalidOrder):
        return ExchangeRejected(f"order refused by {label}{reason}")
    if isinstance(exc, ccxt.NotSupported):  # ccxt's own words, never an answer
        return ConfigurationError(f"{label}: {detail[:300]}")
    if isinstance(exc, ccxt.ExchangeError):
        return ExchangeRejected(f"{label}: the exchange refused the request{reason or _http_status(detail)}")
    return TradingError(f"{label}: unexpected {type(exc).__name__} (details in the gateway's log)")
