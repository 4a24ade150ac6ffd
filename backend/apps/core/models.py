"""Installation-wide facts."""

from __future__ import annotations

import secrets

from django.db import models


class Installation(models.Model):
    """One row: facts that must stay the same for the life of an installation."""

    order_prefix = models.CharField(max_length=8, help_text="starts every client order id of this installation")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"installation {self.order_prefix}"

    @classmethod
    def current(cls) -> Installation:
        row = cls.objects.order_by("pk").first()
        if row is None:
            # Random per installation, so that a re-installed Aristobot never reuses the client
            # order ids of a previous one on the same exchange account.
            row = cls.objects.create(order_prefix=secrets.token_hex(3))
        return row
