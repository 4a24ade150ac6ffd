"""What travels on the `ui_events` stream: which rows changed, not their content.

One entry holds the changes of one flush: `{"events": "[[kind, id, user_id, event], …]"}`.
The web process loads the rows when it forwards them, so the browser always gets the
row as it is now, and many changes of one row between two flushes cost one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

EVENTS_FIELD = "events"
EVENTS_PER_ENTRY = 500  # a mark-to-market of 10,000 positions is 20 entries, none over ~20 KB


class PushKind(StrEnum):
    """The object an event is about; also the `type` of the message the browser gets."""

    WEBHOOK = "webhook"
    POSITION = "position"
    ORDER = "order"


class PushEvent(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


class Change(NamedTuple):
    """A row of `kind` with primary key `pk`, owned by `user_id`, was created or updated.

    A named tuple, not a dataclass: the engine makes one per saved row, so it must be cheap.
    """

    kind: PushKind
    pk: int
    user_id: int
    event: PushEvent


def changes_encode(changes: Sequence[tuple[str, int, int, str]]) -> dict[str, bytes]:
    """The fields of one stream entry (changes as `Change` or plain tuples)."""
    return {EVENTS_FIELD: orjson.dumps([list(change) for change in changes])}


def changes_decode(fields: dict[Any, Any]) -> tuple[list[Change], int]:
    """The changes of one stream entry, and how many of its items were unreadable (skipped)."""
    raw = fields.get(EVENTS_FIELD.encode(), fields.get(EVENTS_FIELD))
    if raw is None:
        return [], 1
    try:
        rows = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [], 1
    if not isinstance(rows, list):
        return [], 1
    changes, bad = [], 0
    for row in rows:
        try:
            kind, pk, user_id, event = row
            if type(pk) is not int or type(user_id) is not int:
                raise TypeError("ids are integers")
            changes.append(Change(PushKind(kind), pk, user_id, PushEvent(event)))
        except (TypeError, ValueError):
            bad += 1
    return changes, bad
