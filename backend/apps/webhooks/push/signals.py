"""Rows saved with Model.save() announce themselves; QuerySet.update() and bulk paths call
`announce_rows` / `announce_ids` where they happen (they fire no signal)."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.webhooks.models import Order, Webhook, WebhookState
from apps.webhooks.push.announce import announce_one
from apps.webhooks.push.events import PushEvent, PushKind

KINDS: dict[type, PushKind] = {Webhook: PushKind.WEBHOOK, WebhookState: PushKind.POSITION, Order: PushKind.ORDER}
CREATED, UPDATED = PushEvent.CREATED, PushEvent.UPDATED


@receiver(post_save, sender=Webhook)
@receiver(post_save, sender=WebhookState)
@receiver(post_save, sender=Order)
def row_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """Announce a saved alert, position or order of a user (an alert of no known user has no audience)."""
    if raw or not instance.user_id:
        return
    announce_one(KINDS[sender], instance.pk, instance.user_id, CREATED if created else UPDATED, using)
