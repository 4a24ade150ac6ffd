"""The domain's error hierarchy; each class's docstring says what the system does next."""

from __future__ import annotations


class TradingError(Exception):
    """Base of every domain error. The message is shown to the trader as is."""


class AlertInvalid(TradingError):
    """The alert cannot be acted on as written: record it as an error, send nothing."""


class OrderInvalid(TradingError):
    """The order would break the market's rules (precision, minimums) or the position's
    logic (stop above price): record as an error, send nothing, never retry."""


class ExchangeRejected(TradingError):
    """The exchange refused the order or the request: record the reason, never retry."""


class InsufficientFunds(ExchangeRejected):
    """Not enough free balance for the order: record, never retry."""


class ProtectionUnsupported(ExchangeRejected):
    """The exchange cannot hold this stop-loss / take-profit: the engine guards it from prices."""


class OrderNotFound(ExchangeRejected):
    """The exchange has no order with this id: the caller decides (often: place it)."""


class DuplicateOrder(ExchangeRejected):
    """An order with this client order id already exists: fetch it instead of placing."""


class AuthenticationFailed(ExchangeRejected):
    """The exchange refused the broker's keys: record, never retry, tell the trader."""


class TemporaryError(TradingError):
    """Network trouble, timeouts, rate limits, exchange maintenance: retry with backoff.

    After a timeout on order creation the order may exist: look it up by client order id
    before placing it again.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigurationError(TradingError):
    """The broker or the installation is set up wrongly: stop acting and say what to fix."""
