"""One place where an API view's rows are limited to the signed-in user's."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from rest_framework.generics import GenericAPIView

M = TypeVar("M", bound=Model)


class OwnedRowsMixin(GenericAPIView, Generic[M]):
    """`owned()`: the model's rows whose `user` is the signed-in user (none while the schema is drawn)."""

    model: type[M]

    def owned(self) -> QuerySet[M]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspects views without a user
            return self.model._default_manager.none()
        user: Any = self.request.user
        return self.model._default_manager.filter(user=user)
