"""Who sent an alert: the in-memory token index (hashes only) and the legacy single token."""

from __future__ import annotations

import hmac
from typing import NamedTuple

from apps.webhooks.models import token_hash

LEGACY_KEY = "legacy"  # rate-limit key of the legacy token


class Identity(NamedTuple):
    """An authenticated sender: the user (None for the legacy token) and its rate-limit key."""

    user_id: int | None
    key: str


class TokenIndex:
    """Token hash → user id, replaced whole on reload so a lookup never sees half an update."""

    __slots__ = ("_hashes", "_legacy")

    def __init__(self, hashes: dict[str, int] | None = None, *, legacy_token: str = "") -> None:
        self._hashes: dict[str, int] = dict(hashes or {})
        self._legacy = legacy_token.encode()

    def __len__(self) -> int:
        return len(self._hashes)

    def replace(self, hashes: dict[str, int]) -> None:
        """Swap in a freshly loaded index."""
        self._hashes = hashes

    def identify(self, token: str) -> Identity | None:
        """The sender of `token`, or None. Comparing hashes (or compare_digest) leaks no timing about the token."""
        try:
            digest = token_hash(token)
        except UnicodeEncodeError:  # a lone surrogate from a mangled URL: no token of ours
            return None
        user_id = self._hashes.get(digest)
        if user_id is not None:
            return Identity(user_id, digest)
        if self._legacy and hmac.compare_digest(token.encode(), self._legacy):
            return Identity(None, LEGACY_KEY)
        return None
