"""Webhook token services: issue, revoke, and the hash index the receiver authenticates with.

Every change bumps a Redis counter after the commit, so running receivers reload their
index within a second instead of querying the database per alert.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.core.redis_client import version_bump
from apps.core.streams import TOKENS_VERSION_KEY
from apps.webhooks.models import WebhookToken


def tokens_version_bump() -> None:
    """Tell receivers to reload their token index (a Redis failure only logs: the 60 s reload catches up)."""
    version_bump(TOKENS_VERSION_KEY, failure="webhook tokens changed, receivers not told; they reload within 60 s")


def token_create(*, user: AbstractBaseUser, label: str = "") -> tuple[WebhookToken, str]:
    """Issue a token for `user`; returns the record and the plain token, shown once and never stored."""
    with transaction.atomic():
        record, plain = WebhookToken.issue(user=user, label=label)
        transaction.on_commit(tokens_version_bump)
    return record, plain


def token_webhook_url(plain: str) -> str:
    """The URL to paste in TradingView for this token: WEBHOOK_PUBLIC_URL/webhook/<token>."""
    return f"{settings.WEBHOOK_PUBLIC_URL.rstrip('/')}/webhook/{plain}"


def token_revoke(*, token: WebhookToken) -> None:
    """Revoke a token; receivers refuse it within a second. Revoking twice keeps the first time."""
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        transaction.on_commit(tokens_version_bump)


def token_index_load() -> dict[str, int]:
    """Token hash → user id, for the non-revoked tokens of active users."""
    rows = WebhookToken.objects.filter(revoked_at__isnull=True, user__is_active=True).values_list(
        "token_hash", "user_id"
    )
    return dict(rows)
