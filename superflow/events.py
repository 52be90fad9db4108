"""The event: one thing that happened to one person, on its way to the engine."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any


@dataclass
class Event:
    """Something that happened: a CRM change, a click, a form post, an API call.

    ``type`` is a dotted name such as ``selection.member_added`` or ``email.opened``;
    triggers and success criteria say which types they listen to.  ``data`` carries
    what a trigger or criterion needs to decide whether it matches (a selection id, a
    link, changed fields).  Events travel through RQ as JSON, so ``data`` must be
    JSON-serialisable.
    """

    type: str
    person_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: float = field(default_factory=time.time)
    source: str = ""
    #: When the event was handed to the engine (wall clock): the start of the
    #: event → step latency.  Set by whoever emits it, never taken from a caller's
    #: data (``occurred_at`` may be in the past).
    emitted_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "person_id": self.person_id,
            "data": self.data,
            "id": self.id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "emitted_at": self.emitted_at,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(
            type=raw["type"],
            person_id=None if raw.get("person_id") is None else str(raw["person_id"]),
            data=dict(raw.get("data") or {}),
            id=raw.get("id") or uuid.uuid4().hex,
            occurred_at=float(raw.get("occurred_at") or time.time()),
            source=raw.get("source", ""),
            emitted_at=float(raw.get("emitted_at") or time.time()),
        )
