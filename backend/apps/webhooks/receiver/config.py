"""The receiver's settings as one frozen value, so tests build an app without touching Django settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver needs to know; `from_settings` reads it from Django settings."""

    max_body_bytes: int = 65536
    rate_limit_per_minute: int = 600  # per token; 0 turns the limit off
    rate_burst: int | None = None  # alerts a token may send at once; None: a quarter of the minute's limit
    ip_allowlist: tuple[str, ...] = ()  # addresses or networks; empty: any source
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For is believed
    legacy_token: str = ""  # the single-user WEBHOOK_TOKEN; alerts it authenticates name their UserID
    stream_maxlen: int | None = None  # never trim here: the engine trims what it has acknowledged
    token_poll_seconds: float = 0.3  # how often the token version counter is checked
    token_full_reload_seconds: float = 60.0  # reload even without a version change (missed bump, user disabled)
    health_ping_timeout: float = 0.5
    idle_timeout: float = (
        15.0  # a connection without a complete request head this long after opening or answering is closed
    )
    body_timeout: float = 2.0  # seconds for a body once its head arrived (408 after); TradingView sends both at once
    max_connections: int = 512  # beyond it the least recently active connection idle or waiting for a body is closed

    @property
    def burst(self) -> int:
        """The bucket size of the rate limiter."""
        if self.rate_burst is not None:
            return max(1, self.rate_burst)
        return max(1, self.rate_limit_per_minute // 4)

    @classmethod
    def from_settings(cls) -> ReceiverConfig:
        """The configuration of a running receiver, from the WEBHOOK_* settings."""
        from django.conf import settings

        return cls(
            max_body_bytes=settings.WEBHOOK_MAX_BODY_BYTES,
            rate_limit_per_minute=settings.WEBHOOK_RATE_LIMIT_PER_MINUTE,
            ip_allowlist=tuple(settings.WEBHOOK_IP_ALLOWLIST),
            trusted_proxies=tuple(settings.WEBHOOK_TRUSTED_PROXIES),
            legacy_token=settings.WEBHOOK_TOKEN,
            idle_timeout=float(settings.WEBHOOK_IDLE_TIMEOUT_SECONDS),
            body_timeout=float(settings.WEBHOOK_BODY_TIMEOUT_SECONDS),
            max_connections=settings.WEBHOOK_MAX_CONNECTIONS,
        )
