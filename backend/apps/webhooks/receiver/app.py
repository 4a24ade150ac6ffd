"""The application factory: wires routes to handlers and runs the token refresher alongside."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

from apps.core.liveness import Liveness
from apps.webhooks.receiver.auth import TokenIndex
from apps.webhooks.receiver.config import ReceiverConfig
from apps.webhooks.receiver.connections import ConnectionGuard
from apps.webhooks.receiver.cors import cors_enable
from apps.webhooks.receiver.handlers import WebhookHandlers
from apps.webhooks.receiver.limits import AddressPolicy, RateLimiter
from apps.webhooks.receiver.refresh import TokenLoader, TokenRefresher
from apps.webhooks.receiver.stats import ReceiverStats
from apps.webhooks.receiver.store import AlertWriter

INDEX = web.AppKey("index", TokenIndex)
STATS = web.AppKey("stats", ReceiverStats)
REFRESHER = web.AppKey("refresher", TokenRefresher)
WRITER = web.AppKey("writer", AlertWriter)
LIVENESS = web.AppKey("liveness", Liveness)
GUARD = web.AppKey("guard", ConnectionGuard)


def build_app(
    *, redis: aioredis.Redis, config: ReceiverConfig, token_loader: TokenLoader, liveness: Liveness | None = None
) -> web.Application:
    """A receiver app; tokens are loaded at startup (a failure stops it) and kept fresh until cleanup.

    `liveness`: the process's record, touched by each alert stored (the process publishes it).
    """
    liveness = liveness or Liveness("receiver")
    index = TokenIndex(legacy_token=config.legacy_token)
    limiter = RateLimiter(config.rate_limit_per_minute, config.burst)
    stats = ReceiverStats()
    writer = AlertWriter(redis, maxlen=config.stream_maxlen)
    guard = ConnectionGuard(config.max_connections)  # serve it with runner.GuardedSite
    handlers = WebhookHandlers(
        config=config,
        redis=redis,
        writer=writer,
        index=index,
        limiter=limiter,
        addresses=AddressPolicy(config.ip_allowlist, config.trusted_proxies),
        stats=stats,
        liveness=liveness,
        connections=guard,
    )
    refresher = TokenRefresher(
        index=index,
        limiter=limiter,
        loader=token_loader,
        redis=redis,
        poll_seconds=config.token_poll_seconds,
        full_reload_seconds=config.token_full_reload_seconds,
    )
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=[guard.middleware])
    app[INDEX] = index
    app[STATS] = stats
    app[REFRESHER] = refresher
    app[WRITER] = writer
    app[LIVENESS] = liveness
    app[GUARD] = guard
    app.router.add_post("/webhook", handlers.webhook)
    app.router.add_post("/webhook/{token}", handlers.webhook)
    app.router.add_get("/health", handlers.health)
    cors_enable(app)  # the dashboard's "send a test alert" posts from the browser
    app.cleanup_ctx.append(_keep_tokens_fresh)
    app.cleanup_ctx.append(_run_writer)
    return app


async def _keep_tokens_fresh(app: web.Application) -> AsyncIterator[None]:
    refresher = app[REFRESHER]
    await refresher.load()
    task = asyncio.create_task(refresher.run(), name="webhook-token-refresher")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _run_writer(app: web.Application) -> AsyncIterator[None]:
    writer = app[WRITER]
    writer.start()
    yield
    await writer.stop()  # after the server stopped: alerts in flight were answered first
