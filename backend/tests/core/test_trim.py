"""Stream trimming never drops an entry that is unread or unacknowledged."""

from __future__ import annotations

import pytest
import redis

from apps.core.trim import stream_trim_acknowledged

pytestmark = pytest.mark.integration


def test_trim_drops_only_old_acknowledged_entries(redis_server_url):
    client = redis.Redis.from_url(redis_server_url)
    client.delete("s")
    for n in range(1, 7):
        client.xadd("s", {"n": n}, id=f"{n}-0")
    client.xgroup_create("s", "g", id="0")
    read = client.xreadgroup("g", "c", {"s": ">"}, count=4)  # 1..4 delivered
    ids = [entry_id for entry_id, _ in read[0][1]]
    client.xack("s", "g", ids[0], ids[1], ids[3])  # 3 stays pending, 5 and 6 unread

    stream_trim_acknowledged(client, "s", "g", keep_seconds=0)

    remaining = [entry_id.decode() for entry_id, _ in client.xrange("s")]
    assert remaining == ["3-0", "4-0", "5-0", "6-0"]
    client.close()


def test_trim_of_a_stream_without_group_does_nothing(redis_server_url):
    client = redis.Redis.from_url(redis_server_url)
    client.delete("lonely")
    client.xadd("lonely", {"n": 1})

    assert stream_trim_acknowledged(client, "lonely", "g", keep_seconds=0) == 0
    assert client.xlen("lonely") == 1
    client.close()
