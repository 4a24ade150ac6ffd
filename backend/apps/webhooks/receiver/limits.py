"""Abuse limits: a per-token rate limit (token bucket) and the optional source address allowlist."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RateLimiter:
    """A token bucket per key: `burst` alerts at once, then `per_minute` a minute on average."""

    __slots__ = ("_buckets", "_burst", "_clock", "_rate")

    def __init__(self, per_minute: int, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(max(1, burst))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens left, when)

    def take(self, key: str) -> float:
        """Spend one alert of `key`'s budget: 0.0 when allowed, else the seconds to wait."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        tokens = self._burst if bucket is None else min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self._rate

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget the buckets of keys no longer valid (revoked tokens), so memory stays bounded."""
        wanted = set(keys)
        self._buckets = {key: value for key, value in self._buckets.items() if key in wanted}


def retry_after_header(wait: float) -> str:
    """Retry-After wants whole seconds; round up so a client that obeys it is let in."""
    return str(max(1, math.ceil(wait)))


def _networks(entries: Iterable[str], name: str) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{name}: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AddressPolicy:
    """Find the client's address (X-Forwarded-For only from trusted proxies) and check the allowlist."""

    __slots__ = ("_allow", "_proxies")

    def __init__(self, allowlist: Iterable[str] = (), trusted_proxies: Iterable[str] = ()) -> None:
        self._allow = _networks(allowlist, "WEBHOOK_IP_ALLOWLIST")
        self._proxies = _networks(trusted_proxies, "WEBHOOK_TRUSTED_PROXIES")

    def _trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._proxies)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address as text ("" when unknown): the peer, or the nearest untrusted X-Forwarded-For hop."""
        if not peer:
            return ""
        if not self._proxies and not self._allow:
            return peer  # nothing depends on it but the record: skip parsing on the hot path
        address = _address(peer)
        if address is None:
            return ""
        if forwarded_for and self._trusted(address):
            # Walk from the right: each trusted proxy appended the address it saw.
            for hop in reversed(forwarded_for.split(",")):
                hop_address = _address(hop)
                if hop_address is None:
                    return ""
                address = hop_address
                if not self._trusted(address):
                    break
        return str(address)

    def allowed(self, ip: str) -> bool:
        """True when no allowlist is set or `ip` is in it."""
        if not self._allow:
            return True
        address = _address(ip) if ip else None
        return address is not None and any(address in network for network in self._allow)
