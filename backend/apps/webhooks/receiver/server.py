"""Running the receiver as a process: Redis client, database token loader, uvloop, signals."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections.abc import Callable

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from apps.core.liveness import AsyncLivenessPublisher, Liveness
from apps.webhooks.receiver.app import GUARD, INDEX, build_app
from apps.webhooks.receiver.config import ReceiverConfig
from apps.webhooks.receiver.connections import connection_limit
from apps.webhooks.receiver.runner import GuardedSite, receiver_runner
from apps.webhooks.tokens import token_index_load

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 5.0  # seconds given to alerts in flight when asked to stop


class StartError(Exception):
    """The receiver cannot start (database without tokens table, port taken): stop and say why."""


def receiver_redis(url: str) -> aioredis.Redis:
    """A Redis client that fails fast: TradingView gives up after 3 s, so one quick retry at most.

    No socket_timeout: every call is bounded by asyncio.timeout instead, which costs no task per command.
    """
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 1), health_check_interval=30
    )


def _tokens_from_db() -> dict[str, int]:
    close_old_connections()  # a connection broken by a database restart is replaced, not reused
    return token_index_load()


async def db_token_loader() -> dict[str, int]:
    """The token index from the database, in a worker thread so the event loop never waits on it."""
    return await sync_to_async(_tokens_from_db, thread_sensitive=True)()


async def serve(*, host: str, port: int, redis_url: str, config: ReceiverConfig) -> None:
    """Serve until SIGTERM or SIGINT, then let alerts in flight finish and close."""
    cap, open_files = connection_limit(config.max_connections)
    if cap < config.max_connections:
        logger.warning(
            "WEBHOOK_MAX_CONNECTIONS=%d lowered to %d to fit the open-file limit (%d)",
            config.max_connections,
            cap,
            open_files,
        )
        config = dataclasses.replace(config, max_connections=cap)
    redis = receiver_redis(redis_url)
    liveness = AsyncLivenessPublisher(Liveness("receiver"), redis)
    app = build_app(redis=redis, config=config, token_loader=db_token_loader, liveness=liveness.liveness)
    runner = receiver_runner(app, config, shutdown_timeout=SHUTDOWN_TIMEOUT)
    try:
        try:
            await runner.setup()  # loads the tokens
        except DatabaseError as exc:
            raise StartError(f"cannot load webhook tokens from the database ({exc}); is it migrated?") from None
        try:
            await GuardedSite(runner, host, port, guard=app[GUARD], backlog=1024).start()
        except OSError as exc:
            raise StartError(f"cannot listen on {host}:{port}: {exc}") from None
        logger.info(
            "webhook receiver listening on http://%s:%d (%d tokens loaded, legacy token %s)",
            host,
            port,
            len(app[INDEX]),
            "on" if config.legacy_token else "off",
        )
        if not len(app[INDEX]) and not config.legacy_token:
            logger.warning("no webhook token and no WEBHOOK_TOKEN: every alert is refused until a token is created")
        beating = asyncio.create_task(liveness.run(), name="receiver-liveness")
        await _until_signalled()
        logger.info("webhook receiver stopping")
        beating.cancel()
    finally:
        # Bounded: a stop must never hang (the alerts are in Redis already).
        for step, seconds in ((runner.cleanup, SHUTDOWN_TIMEOUT + 2), (liveness.withdraw, 3.0), (redis.aclose, 2.0)):
            try:
                async with asyncio.timeout(seconds):
                    await step()
            except TimeoutError:
                logger.warning("webhook receiver: %s took over %.0f s at stop; going on", step.__name__, seconds)


async def _until_signalled() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(*, host: str, port: int, redis_url: str, config: ReceiverConfig) -> None:
    """Run `serve` on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(host=host, port=port, redis_url=redis_url, config=config))
