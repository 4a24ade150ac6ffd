"""Rules a broker keeps whoever saves it: the API, the admin or a command."""

from __future__ import annotations

import pytest

from apps.brokers.models import Broker


@pytest.mark.django_db
def test_a_user_has_one_default_broker_whoever_saves_it(alice, bob):
    first = Broker.objects.create(user=alice, name="A", exchange="paper", is_default=True)
    bobs = Broker.objects.create(user=bob, name="B", exchange="paper", is_default=True)
    second = Broker.objects.create(user=alice, name="C", exchange="paper", is_default=True)  # e.g. the admin

    assert list(Broker.objects.filter(user=alice, is_default=True)) == [second]
    first.refresh_from_db()
    bobs.refresh_from_db()
    assert not first.is_default and bobs.is_default
