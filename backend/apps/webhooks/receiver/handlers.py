"""The HTTP entrypoints: POST /webhook[/{token}] and GET /health. Thin: check, store, answer."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiohttp import web

from apps.core.liveness import Liveness
from apps.core.logcontext import trace_id_set
from apps.core.metrics import ALERTS_RECEIVED, ALERTS_REJECTED, metric_incr
from apps.core.status import status_collect_async
from apps.core.streams import RawAlert
from apps.core.throttle import LogThrottle
from apps.webhooks.receiver.auth import Identity, TokenIndex
from apps.webhooks.receiver.body import Body, BodyInvalid, body_parse, body_redacted, body_to_store, body_token
from apps.webhooks.receiver.config import ReceiverConfig
from apps.webhooks.receiver.connections import ConnectionGuard
from apps.webhooks.receiver.cors import ANY_ORIGIN
from apps.webhooks.receiver.limits import AddressPolicy, RateLimiter, retry_after_header
from apps.webhooks.receiver.stats import ReceiverStats, Rejection, utc_now_iso
from apps.webhooks.receiver.store import AlertWriter, StoreUnavailable, redis_reachable

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Webhook-Token"
JSON = "application/json"


def _error(status: int, message: str, headers: dict[str, str] | None = None, trace_id: str = "") -> web.Response:
    """A /webhook error answer, readable by any origin (see cors.py)."""
    answer = {"status": "error", "error": message}
    if trace_id:
        answer["trace_id"] = trace_id
    headers = {**ANY_ORIGIN, **headers} if headers else ANY_ORIGIN
    return web.Response(status=status, body=orjson.dumps(answer), content_type=JSON, headers=headers)


class WebhookHandlers:
    """Request handlers bound to the receiver's state (token index, limits, counters, Redis)."""

    def __init__(
        self,
        *,
        config: ReceiverConfig,
        redis: aioredis.Redis,
        writer: AlertWriter,
        index: TokenIndex,
        limiter: RateLimiter,
        addresses: AddressPolicy,
        stats: ReceiverStats,
        liveness: Liveness,
        connections: ConnectionGuard,
    ) -> None:
        self._config = config
        self._connections = connections
        self._liveness = liveness
        self._max_body = config.max_body_bytes
        self._redis = redis
        self._writer = writer
        self._index = index
        self._limiter = limiter
        self._addresses = addresses
        self._stats = stats
        self._store_warn = LogThrottle(logger)
        self._limit_warn = LogThrottle(logger, every=60.0)

    def _reject(
        self, reason: Rejection, status: int, message: str, headers: dict[str, str] | None = None, trace_id: str = ""
    ) -> web.Response:
        self._stats.rejected[reason] += 1
        metric_incr(ALERTS_REJECTED + reason)
        return _error(status, message, headers, trace_id)

    def _too_large(self) -> web.Response:
        response = self._reject(Rejection.TOO_LARGE, 413, f"body larger than {self._max_body} bytes")
        response.force_close()  # do not drain a large body to keep the connection
        return response

    async def webhook(self, request: web.Request) -> web.Response:
        """Authenticate an alert, store it, answer 200 with its trace id (or say why not)."""
        ip = self._addresses.client_ip(request.remote, request.headers.get("X-Forwarded-For"))
        if not self._addresses.allowed(ip):
            return self._reject(Rejection.FORBIDDEN_IP, 403, "source address not allowed")
        length = request.content_length
        if length is not None and length > self._max_body:
            return self._too_large()
        token = request.match_info.get("token") or request.headers.get(TOKEN_HEADER)
        if token:
            # Checked before the body is read: a sender without a token cannot hold a connection waiting for one.
            identity = self._index.identify(token)
            if identity is None:
                return self._reject(Rejection.UNAUTHORIZED, 401, "invalid token")
            raw = await self._read_body(request)
            if isinstance(raw, web.Response):
                return raw
            return await self._outer_token(raw, token, identity, ip)
        raw = await self._read_body(request)
        if isinstance(raw, web.Response):
            return raw
        return await self._body_token(raw, ip)

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        """The body, or the answer when it is too large, too slow or broken (the connection is then closed).

        While it waits, the connection may be closed by the cap on connections (connections.py); a
        sender gone mid-body is counted (`disconnected`) and dropped without a log line.
        """
        try:
            with self._connections.reading_body(request):
                async with asyncio.timeout(self._config.body_timeout):  # aiohttp has no body read timeout
                    return await request.read()  # the app's client_max_size stops a body without Content-Length
        except web.HTTPRequestEntityTooLarge:
            return self._too_large()
        except TimeoutError:
            response = self._reject(
                Rejection.SLOW_BODY, 408, f"body not received within {self._config.body_timeout:g} s"
            )
        except web.RequestPayloadError as exc:  # broken chunked encoding, body shorter than its Content-Length
            response = self._reject(Rejection.BAD_BODY, 400, f"body could not be read: {exc}")
        except ConnectionError:  # "Connection lost" (aiohttp's ClientConnectionResetError is one too)
            response = self._reject(Rejection.DISCONNECTED, 400, "connection closed before the whole body arrived")
        except RuntimeError as exc:  # aiohttp's StreamReader once the connection is gone
            if str(exc) != "Connection closed.":
                raise
            response = self._reject(Rejection.DISCONNECTED, 400, "connection closed before the whole body arrived")
        response.force_close()  # nobody reads this answer when disconnected: aiohttp drops it quietly
        return response

    async def _outer_token(self, raw: bytes, token: str, identity: Identity, ip: str) -> web.Response:
        """Token from the path or header, already authenticated: rate-limit, then store (unreadable bodies recorded)."""
        if limited := self._limited(identity):
            return limited
        try:
            body = body_parse(raw)
        except BodyInvalid as exc:
            return await self._record_invalid(raw, token, identity, ip, str(exc), exc.payload)
        return await self._store(body_to_store(body, token), identity, ip)

    async def _body_token(self, raw: bytes, ip: str) -> web.Response:
        """Token from the body's `Token` field: the body must parse before we know who sent it."""
        body: Body | None = None
        problem = ""
        try:
            body = body_parse(raw)
            payload = body.payload
        except BodyInvalid as exc:
            if exc.payload is None:  # unreadable: nobody to record it for
                return self._reject(Rejection.BAD_BODY, 400, str(exc))
            payload, problem = exc.payload, str(exc)
        token = body_token(payload)
        if token is None:
            return self._reject(Rejection.UNAUTHORIZED, 401, "missing token")
        identity = self._index.identify(token)
        if identity is None:
            return self._reject(Rejection.UNAUTHORIZED, 401, "invalid token")
        if limited := self._limited(identity):
            return limited
        if body is None:
            return await self._record_invalid(raw, token, identity, ip, problem, payload)
        return await self._store(body_to_store(body, token), identity, ip)

    def _limited(self, identity: Identity) -> web.Response | None:
        wait = self._limiter.take(identity.key)
        if not wait:
            return None
        self._limit_warn.warning("webhook rate limit reached for user %s", identity.user_id or "(legacy token)")
        return self._reject(
            Rejection.RATE_LIMITED, 429, "too many alerts, slow down", {"Retry-After": retry_after_header(wait)}
        )

    async def _store(self, body: str, identity: Identity, ip: str) -> web.Response:
        received_at = utc_now_iso()
        trace_id = uuid.uuid4().hex
        trace_id_set(trace_id)  # this request's task: its log lines carry the alert's trace id
        alert = RawAlert(body=body, received_at=received_at, trace_id=trace_id, user_id=identity.user_id, source_ip=ip)
        try:
            await self._writer.store(alert)
        except StoreUnavailable as exc:
            self._store_warn.warning("alert not stored, answering 503: %s", exc)
            return self._reject(Rejection.STORE_UNAVAILABLE, 503, "alert store unavailable")
        self._stats.accepted(received_at)
        metric_incr(ALERTS_RECEIVED)  # /metrics: written by the liveness beat, as the rejections are
        self._liveness.touch()
        answer = orjson.dumps({"status": "received", "trace_id": trace_id})
        return web.Response(body=answer, content_type=JSON, headers=ANY_ORIGIN)

    async def _record_invalid(
        self, raw: bytes, token: str, identity: Identity, ip: str, problem: str, payload: dict[str, Any] | None
    ) -> web.Response:
        """Answer 400, and store the redacted body with `rejected` so the trader sees the error.

        `payload`: the body parsed but failed a check; its scrubbed object is stored, not the text.
        """
        alert = RawAlert(
            body=body_redacted(raw, token, payload),
            received_at=utc_now_iso(),
            trace_id=uuid.uuid4().hex,
            user_id=identity.user_id,
            source_ip=ip,
            rejected=problem,
        )
        trace_id_set(alert.trace_id)
        try:
            await self._writer.store(alert)
        except StoreUnavailable as exc:
            self._store_warn.warning("rejected alert not recorded: %s", exc)
            return self._reject(Rejection.BAD_BODY, 400, f"{problem} (not recorded: alert store unavailable)")
        self._stats.recorded_rejected += 1
        return self._reject(Rejection.BAD_BODY, 400, problem, trace_id=alert.trace_id)

    async def health(self, request: web.Request) -> web.Response:
        """Counters, Redis reachability, tokens loaded and the stack's status (as `manage.py status
        --json` shows it); 503 when Redis does not answer, and with `?strict=1` when the stack is
        unhealthy."""
        reachable = await redis_reachable(self._redis, within=self._config.health_ping_timeout)
        system: dict[str, object] | None = None
        if reachable:
            try:
                async with asyncio.timeout(self._config.health_ping_timeout * 2):
                    system = (await status_collect_async(self._redis)).to_dict()
            except Exception as exc:  # the receiver's own health does not depend on it
                logger.warning("cannot read the stack's status for /health: %s", exc)
        state = {
            "status": "ok" if reachable else "degraded",
            **self._stats.snapshot(),
            "redis_reachable": reachable,
            "tokens_loaded": len(self._index),
            "legacy_token": bool(self._config.legacy_token),
            "connections": self._connections.snapshot(),
            "system": system,
        }
        healthy = reachable and (request.query.get("strict") not in ("1", "true") or bool(system and system["healthy"]))
        return web.Response(status=200 if healthy else 503, body=orjson.dumps(state), content_type=JSON)
