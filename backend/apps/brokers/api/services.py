"""Saving a broker from the API: credentials encrypted, one default per user, names unique."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from apps.brokers.api.serializers import CREDENTIALS
from apps.brokers.models import Broker
from apps.webhooks.models import PositionStatus


class BrokerInUse(APIException):
    """The broker still holds open positions: 409, nothing deleted."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "broker_in_use"


def broker_save(*, broker: Broker, data: dict[str, Any]) -> Broker:
    """Apply validated fields and credentials; making it the default un-defaults the user's others."""
    for key, value in data.items():
        if key not in CREDENTIALS:
            setattr(broker, key, value)
    broker.set_credentials(**{key: data[key] for key in CREDENTIALS if key in data})
    try:
        broker.save()  # the model keeps one default per user
    except IntegrityError:  # two requests racing for one name: the constraint decides
        raise ValidationError({"name": [f"you already have a broker named {broker.name!r}"]}) from None
    return broker


def broker_delete(*, broker: Broker) -> None:
    """Delete a broker with its positions and orders; refused while a position is open on it."""
    open_count = broker.webhook_states.filter(status=PositionStatus.OPEN).count()
    if open_count:
        raise BrokerInUse(
            f"broker {broker.label} has {open_count} open position(s): close them first, "
            "or set is_active to false to stop it trading"
        )
    broker.delete()
