"""Recording an alert: every stream entry becomes exactly one Webhook row, even a bad one."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import redis
from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.utils import timezone

from apps.brokers.models import Broker
from apps.core.metrics import ALERTS_FAILED, metric_incr
from apps.core.streams import BROKERS_VERSION_KEY, RawAlert
from apps.webhooks.engine.dedup import DUPLICATE_PREFIX, Deduplicator, alert_dedup_key
from apps.webhooks.engine.ids import order_key_new
from apps.webhooks.engine.rows import row_insert
from apps.webhooks.models import Webhook, WebhookStatus
from trading.alerts import Alert, payload_parse, payload_without_secrets
from trading.alerts import alert_from_payload as _alert_from_payload
from trading.errors import AlertInvalid
from trading.numbers import NUMBER_MAX, NUMBER_MIN, id_from


@dataclass(frozen=True)
class RecordedAlert:
    """A Webhook row and, when it is valid and addressed to a broker, the parsed alert."""

    webhook: Webhook
    alert: Alert | None
    fresh: bool = True  # False when an earlier try recorded it (orders may exist already)


def storable(value: Any) -> Any:
    """`value` with every NUL character replaced by U+FFFD, in keys and strings at any depth:
    PostgreSQL's text and jsonb cannot hold U+0000, and an alert must be recorded whatever it holds."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def _text(payload: dict[str, Any], name: str, limit: int) -> str:
    value = payload.get(name)
    return "" if value is None else str(value)[:limit]


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    # Shown when a MONEY field can hold it (bounded as the parser bounds prices), rounded as stored.
    return number.quantize(NUMBER_MIN) if number.is_finite() and abs(number) <= NUMBER_MAX else None


def _received_at(raw: RawAlert) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.received_at)
    except ValueError:
        return timezone.now()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """What can be shown of a payload even when it is invalid."""
    pour_cent = _decimal_or_none(payload.get("PourCent"))
    pour_cent = pour_cent.quantize(Decimal("0.001")) if pour_cent is not None else None  # as stored: 7 digits
    return {
        "symbol": _text(payload, "Symbol", 40),
        "exchange": _text(payload, "Exchange", 40),
        "interval": _text(payload, "Interval", 10),
        "action": _text(payload, "Action", 20),
        "prix": _decimal_or_none(payload.get("Prix")),
        "prix_sl": _decimal_or_none(payload.get("PrixSL")),
        "prix_tp": _decimal_or_none(payload.get("PrixTP")),
        "pour_cent": pour_cent if pour_cent is not None and abs(pour_cent) < 10000 else None,
    }


def _user_for(raw: RawAlert, payload: dict[str, Any]) -> tuple[Any, str]:
    """The alert's user and, when it cannot be trusted, why."""
    users = get_user_model().objects
    body_user = payload.get("UserID")
    if raw.user_id is not None:
        user = users.filter(pk=raw.user_id, is_active=True).first()
        if user is None:
            return None, f"the token's user #{raw.user_id} no longer exists or is inactive"
        if body_user not in (None, "") and str(body_user) != str(user.pk):
            return user, f"UserID {body_user} does not match the token's user"
        return user, ""
    # Legacy single WEBHOOK_TOKEN: the body's UserID says whose alert it is.
    if body_user in (None, ""):
        return None, "UserID is missing (required with the shared WEBHOOK_TOKEN)"
    user_id = id_from(body_user)
    if user_id is None:
        return None, f"UserID is not a number: {body_user!r}"
    user = users.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None, f"UserID {body_user} does not exist"
    return user, ""


class BrokerDirectory:
    """Brokers with their users, by id, kept between alerts while Redis's `brokers:version`
    is unchanged (any save of a broker or a user bumps it) and for at most `max_age` seconds.

    `refresh()` runs once per batch, before its alerts: a broker switched off or a user
    deactivated is seen from the next batch on, without a query per alert.
    """

    def __init__(self, client: redis.Redis, *, max_age: float = 5.0) -> None:
        self.redis = client
        self.max_age = max_age
        self._brokers: dict[int, Broker | None] = {}
        self._defaults: dict[int, int | None] = {}  # user id → default broker id
        self._version: bytes | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        try:
            version: Any = self.redis.get(BROKERS_VERSION_KEY)
        except redis.RedisError:
            version = None
            self._loaded_at = 0.0  # unsure: forget everything
        stale = time.monotonic() - self._loaded_at > self.max_age
        if stale or version != self._version:
            with self._lock:
                self._brokers = {}
                self._defaults = {}
                self._version = version
                self._loaded_at = time.monotonic()

    def get(self, broker_id: int) -> Broker | None:
        if broker_id not in self._brokers:
            broker = Broker.objects.select_related("user").filter(pk=broker_id).first()
            with self._lock:
                self._brokers[broker_id] = broker
        return self._brokers[broker_id]

    def default_of(self, user_id: int) -> Broker | None:
        """The user's default broker (what an alert without UserExchangeID trades on)."""
        if user_id not in self._defaults:
            found = Broker.objects.filter(user_id=user_id, is_default=True).values_list("pk", flat=True).first()
            with self._lock:
                self._defaults[user_id] = found
        broker_id = self._defaults[user_id]
        return None if broker_id is None else self.get(broker_id)


def _token_users_broker(raw: RawAlert, payload: dict[str, Any], brokers: BrokerDirectory) -> Broker | None:
    """The common case, from the broker cache: a user token and a UserExchangeID of that user's."""
    broker_id = id_from(payload.get("UserExchangeID"))
    body_user = payload.get("UserID")
    if raw.user_id is None or broker_id is None:
        return None
    if body_user not in (None, "") and str(body_user) != str(raw.user_id):
        return None
    broker = brokers.get(broker_id)
    if broker is None or broker.user_id != raw.user_id or not broker.user.is_active:
        return None
    return broker


def _broker_for(user: Any, alert: Alert) -> tuple[Broker | None, str]:
    if alert.broker_id is not None:
        broker = Broker.objects.filter(pk=alert.broker_id, user=user).first()
        if broker is None:
            return None, f"UserExchangeID {alert.broker_id}: no such broker among your brokers"
        return broker, ""
    broker = Broker.objects.filter(user=user, is_default=True).first()
    if broker is None:
        return None, "UserExchangeID is missing and you have no default broker"
    return broker, ""


def alert_record(
    *,
    stream_id: str,
    raw: RawAlert,
    dedup: Deduplicator,
    brokers: BrokerDirectory,
    first_delivery: bool = False,
) -> RecordedAlert:
    """Create the Webhook row for a stream entry (or return the one a previous try created).

    `first_delivery`: the entry was never read before, so no row can exist for it yet.
    `brokers`: the engine's broker cache.
    """
    existing = None if first_delivery else Webhook.objects.select_related("broker").filter(stream_id=stream_id).first()
    if existing is not None:
        return RecordedAlert(existing, _alert_again(existing), fresh=False)

    fields: dict[str, Any] = {
        "stream_id": stream_id,
        "trace_id": raw.trace_id[:40],
        "source_ip": raw.source_ip or None,
        "received_at": _received_at(raw),
        "status": WebhookStatus.RECEIVED,
        "order_key": order_key_new(),
    }
    problem = raw.rejected
    payload: dict[str, Any] = {}
    alert: Alert | None = None
    user = None
    if not problem:
        try:
            payload = payload_without_secrets(payload_parse(raw.body))
        except AlertInvalid as exc:
            problem = str(exc)
    if not payload:
        payload = {"body": raw.body[:4096]}
    payload = storable(payload)
    fields["raw_payload"] = payload
    fields.update(_shown_fields(payload))

    broker = _token_users_broker(raw, payload, brokers) if not problem else None
    if broker is not None:
        user, user_problem = broker.user, ""
    else:
        user, user_problem = _user_for(raw, payload)
    problem = problem or user_problem
    fields["user"] = user

    if not problem:
        try:
            alert = _alert_from_payload(payload)
            fields["bar_time"] = alert.bar_time
        except AlertInvalid as exc:
            problem = str(exc)

    if alert is not None and not problem:
        if broker is None or broker.pk != alert.broker_id:
            broker, broker_problem = _broker_for(user, alert)
            problem = broker_problem
        fields["broker"] = broker

    if alert is not None and not problem:
        key = alert_dedup_key(user_id=user.pk if user else None, alert=alert, body=raw.body)
        fields["dedup_key"] = key
        earlier = dedup.claim(key, stream_id, received_at=fields["received_at"].timestamp())
        if earlier is not None:
            first = Webhook.objects.filter(stream_id=earlier).values_list("pk", flat=True).first()
            seconds = dedup.window_seconds
            problem = (
                f"{DUPLICATE_PREFIX} #{first or earlier} received within the last {seconds} s: recorded, not executed"
            )

    if not problem:
        fields["status"] = WebhookStatus.PROCESSING  # recorded by the try that executes it
    if problem:
        fields["status"] = WebhookStatus.ERROR
        fields["error_message"] = storable(problem)
        fields["processed_at"] = timezone.now()
        alert = None
    webhook = Webhook(**fields)
    try:
        row_insert(webhook)
    except IntegrityError:  # another engine recorded this entry first
        webhook = Webhook.objects.get(stream_id=stream_id)
        return RecordedAlert(webhook, _alert_again(webhook), fresh=False)
    if problem:
        metric_incr(ALERTS_FAILED)
    return RecordedAlert(webhook, alert)


def _alert_again(webhook: Webhook) -> Alert | None:
    """Re-parse a recorded alert when an interrupted try left it unfinished."""
    if webhook.status not in (WebhookStatus.RECEIVED, WebhookStatus.PROCESSING):
        return None
    try:
        return _alert_from_payload(webhook.raw_payload)
    except AlertInvalid:
        return None
