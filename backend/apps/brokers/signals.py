"""Engines cache brokers and their users between alerts: any change to either tells them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.brokers.models import Broker
from apps.core.redis_client import version_bump
from apps.core.streams import BROKERS_VERSION_KEY


def brokers_version_bump() -> None:
    """Tell engines to drop their cached brokers (a Redis failure only logs: their cache expires in seconds)."""
    version_bump(
        BROKERS_VERSION_KEY, failure="a broker or user changed, engines not told; their cache expires in seconds"
    )


@receiver(post_save, sender=Broker)
@receiver(post_delete, sender=Broker)
def broker_changed(sender: Any, **kwargs: Any) -> None:
    transaction.on_commit(brokers_version_bump)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def user_changed(sender: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    """A user (de)activated; a sign-in, which saves only last_login, does not count."""
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    transaction.on_commit(brokers_version_bump)
