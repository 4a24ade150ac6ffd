"""Receivers learn within a second when a user is (de)activated: their tokens follow; a recorded
alert joins the alert stream watched for MISSes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.webhooks.engine.misses import stream_note
from apps.webhooks.models import Webhook
from apps.webhooks.tokens import tokens_version_bump


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    """A deactivated user's tokens stop working at once (a login, which saves only last_login, does not count)."""
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    if instance.webhook_tokens.filter(revoked_at__isnull=True).exists():
        transaction.on_commit(tokens_version_bump)


@receiver(post_save, sender=Webhook)
def webhook_saved(sender: Any, instance: Webhook, created: bool, **kwargs: Any) -> None:
    """A recorded alert joins its alert stream, watched for MISSes (`engine/misses.py`)."""
    if created:
        stream_note(instance)
