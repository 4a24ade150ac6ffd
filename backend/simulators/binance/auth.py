"""Binance's checks on a SIGNED request: API key header, HMAC-SHA256 signature, timestamp and recvWindow.

The signed text is Binance's `totalParams`: the raw query string followed directly by the raw
body, each without its `signature` parameter, byte for byte as the client sent them.
"""

from __future__ import annotations

import hashlib
import hmac

from simulators.binance.errors import BinanceError, mandatory
from simulators.binance.params import Params
from simulators.core.state import SimAccount, Simulator

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW = 5_000
MAX_RECV_WINDOW = 60_000
MAX_AHEAD_MS = 1_000


def authenticate(
    simulator: Simulator, *, api_key: str | None, raw_query: str, raw_body: str, params: Params
) -> SimAccount:
    """The account a signed request acts for, or the BinanceError Binance would answer."""
    if not api_key:
        raise BinanceError(-2014, "API-key format invalid.", status=401)
    account = simulator.accounts.get(api_key)
    if account is None:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    timestamp = params.integer("timestamp")
    if timestamp is None:
        raise mandatory("timestamp")
    signature = params.get("signature")
    if signature is None:
        raise mandatory("signature")
    recv_window = params.integer("recvWindow")
    recv_window = DEFAULT_RECV_WINDOW if recv_window is None else recv_window
    if recv_window > MAX_RECV_WINDOW:
        raise BinanceError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}")
    payload = _without_signature(raw_query) + _without_signature(raw_body)
    if not hmac.compare_digest(sign(account.api_secret, payload), signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    _check_time(simulator.now_ms(), timestamp, recv_window)
    return account


def _check_time(server_ms: int, timestamp: int, recv_window: int) -> None:
    """Binance processes a request only if timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow."""
    if timestamp >= server_ms + MAX_AHEAD_MS:
        raise BinanceError(-1021, f"Timestamp for this request was {MAX_AHEAD_MS}ms ahead of the server's time.")
    if server_ms - timestamp > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if not part.startswith("signature=")) if raw else ""


def sign(secret: str, payload: str) -> str:
    """The signature a client puts on `payload` (for tests and the docs' curl example)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
