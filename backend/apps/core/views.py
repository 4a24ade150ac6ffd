"""Monitors' endpoints on the web process: GET /health/ and GET /metrics."""

from __future__ import annotations

import functools
import logging

import redis
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from apps.core.exposition import metrics_text
from apps.core.redis_client import redis_sync
from apps.core.status import status_collect

logger = logging.getLogger(__name__)


@functools.cache
def _redis() -> redis.Redis:
    """This process's client for the monitors, made on first use (its pool serves concurrent requests)."""
    return redis_sync()


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """The web process (database, Redis) and the stack's status, as `manage.py status --json`.

    503 when the database or Redis does not answer; with `?strict=1`, also when the stack is unhealthy.
    """
    database = _database_ok()
    try:
        system = status_collect(_redis()).to_dict()
    except (redis.RedisError, OSError) as exc:
        logger.warning("health: Redis does not answer: %s", exc)
        system = None
    ok = database and system is not None
    strict = request.GET.get("strict") in ("1", "true")
    healthy = ok and (not strict or bool(system and system["healthy"]))
    answer = {"status": "ok" if ok else "degraded", "database": database, "redis_reachable": system is not None}
    return JsonResponse({**answer, "system": system}, status=200 if healthy else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition: alerts, order latency, streams, processes (503 without Redis)."""
    try:
        status = status_collect(_redis())
    except (redis.RedisError, OSError) as exc:
        return HttpResponse(f"# Redis does not answer: {exc}\n", status=503, content_type="text/plain")
    return HttpResponse(metrics_text(status), content_type=CONTENT_TYPE_LATEST)
