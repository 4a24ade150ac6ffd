"""Where a broker's `api_base_url` may point: the exchange's own addresses, or the operator's allowlist.

A base URL sends the broker's signed requests, and the answers come back to the trader, so an
address anyone could choose would let a user make the gateway call internal services (SSRF).
Allowlist entries (EXCHANGE_BASE_URL_ALLOWLIST, comma-separated), each one of:

- `host`: that host on any port, http or https (`sim.internal`, `127.0.0.1`, `[::1]`);
- `host:port`: that host on that port only, http or https (`127.0.0.1:8899`);
- `scheme://host[:port][/path]`: that scheme, host and port (the scheme's default when none),
  and a path under the given one (`https://proxy.example.com/binance`).

The exchange's own addresses are the hosts ccxt calls for it, from the stored catalog
(`trading.live.catalog`), so checking a URL never imports ccxt.

Hosts are compared exactly (no wildcards, no DNS): name the host the URL uses. A path with a
`.` or `..` segment (also percent-encoded, or before a `;`), an encoded `/` or `\\`, or a `\\` is
refused anywhere, in a base URL and in an entry: a proxy or server that normalises it would
otherwise take `/binance/../admin` out of the allowed `/binance`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from trading.live.catalog import exchange_own_hosts

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class AllowedBase:
    """One allowlist entry; None means any (scheme, port) and "" no path restriction."""

    host: str
    port: int | None = None
    scheme: str | None = None
    path: str = ""

    def allows(self, *, scheme: str, host: str, port: int, path: str) -> bool:
        if host != self.host or (self.scheme is not None and scheme != self.scheme):
            return False
        if self.port is not None and port != self.port:
            return False
        if not self.path:
            return True
        return path == self.path or path.startswith(self.path + "/")


def path_unsafe(path: str) -> bool:
    """Whether a URL path could leave the prefix it seems to be under once a server normalises or
    decodes it: a `.`/`..` segment (plain, percent-encoded, even twice, or before `;` parameters),
    an encoded `/` or `\\`, or a `\\`."""
    decoded = path
    for _ in range(4):  # decode until stable: %252e%252e is `..` to a server that decodes twice
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        return True  # encoded over and over: no real base URL looks like this
    if "\\" in decoded or decoded.count("/") != path.count("/"):
        return True
    return any(segment.split(";", 1)[0] in (".", "..") for segment in decoded.split("/"))


def _host(text: str | None) -> str:
    return (text or "").strip().rstrip(".").lower()


def _host_valid(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST_NAME.match(host))


def allowlist_parse(entries: Iterable[str]) -> tuple[AllowedBase, ...]:
    """The allowlist's entries; ValueError naming the first entry that is not host, host:port or URL."""
    parsed = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        with_scheme = "://" in entry
        try:
            parts = urlsplit(entry if with_scheme else f"//{entry}")
            port = parts.port
        except ValueError:
            raise ValueError(f"{entry!r} is not a host, host:port or URL") from None
        host = _host(parts.hostname)
        scheme = parts.scheme.lower() if with_scheme else None
        problems = [
            not _host_valid(host),
            scheme is not None and scheme not in DEFAULT_PORTS,
            bool(parts.username or parts.password or parts.query or parts.fragment),
            not with_scheme and bool(parts.path),
            path_unsafe(parts.path),
        ]
        if any(problems):
            raise ValueError(f"{entry!r} is not a host, host:port or http(s) URL")
        if scheme is not None and port is None:
            port = DEFAULT_PORTS[scheme]
        parsed.append(AllowedBase(host=host, port=port, scheme=scheme, path=parts.path.rstrip("/")))
    return tuple(parsed)


def base_url_refusal(url: str, *, exchange_id: str, allowlist: Iterable[AllowedBase]) -> str | None:
    """Why this base URL may not be used (None when it may): the trader reads it, so it says what to do."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    scheme = parts.scheme.lower()
    host = _host(parts.hostname)
    if scheme not in DEFAULT_PORTS or not host:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not carry a user name, password, query or fragment"
    if path_unsafe(parts.path):
        return "must not have a `.` or `..` path segment, an encoded `/` or `\\`, or a `\\` in its path"
    port = port if port is not None else DEFAULT_PORTS[scheme]
    path = parts.path.rstrip("/")
    if any(entry.allows(scheme=scheme, host=host, port=port, path=path) for entry in allowlist):
        return None
    if scheme == "https" and port == 443 and host in exchange_own_hosts(exchange_id):
        return None
    return (
        f"points to {host}:{port}, which is neither {exchange_id}'s own API address nor allowed by the "
        "operator: the operator must add it to EXCHANGE_BASE_URL_ALLOWLIST, or leave the field empty"
    )
