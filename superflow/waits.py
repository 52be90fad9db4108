"""What a participant waits for: the wait record stored inside the participant.

The stored form is a short dict in the participant's JSON (``{"k": kind, "u": until}``
plus ``"e"`` for an event wait, ``"n"`` for a retry and ``"c"`` for a channel); a
million participants keep those keys short, and installations upgrade in place, so
:meth:`Wait.to_dict` writes exactly that form back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIME = "time"
EVENT = "event"
WINDOW = "window"
GOAL = "goal"
RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Wait:
    """A participant parked until ``until`` (engine time): for a wait step (``time``),
    an event (``event``, one of ``events``), the send window (``window``), the days
    after the last step in which success still counts (``goal``) or another try of a
    failed step (``retry``: ``attempts`` so far; ``channel`` when it waits for a
    channel that is down)."""

    kind: str
    until: float
    events: tuple[str, ...] = ()
    attempts: int = 0
    channel: str = ""

    @classmethod
    def from_dict(cls, stored: dict[str, Any] | None) -> Wait | None:
        """The wait a participant's stored ``wait`` describes (``None``: it waits for nothing)."""
        if not stored:
            return None
        return cls(
            stored["k"],
            stored["u"],
            tuple(stored.get("e", ())),
            int(stored.get("n", 0)),
            stored.get("c") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored form, key for key as the engine has always written it."""
        stored: dict[str, Any] = {"k": self.kind, "u": round(float(self.until), 3)}
        if self.kind == EVENT:
            stored["e"] = list(self.events)
        if self.kind == RETRY:
            stored["n"] = self.attempts
        if self.channel:
            stored["c"] = self.channel
        return stored
