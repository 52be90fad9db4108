"""A read-only look at one participation, for the plugins that observe the engine.

Lifecycle hooks (``superflow_participant_enrolled``, ``superflow_step_executed``,
``superflow_participant_finished``) are told about a participant after the engine
stored it.  They get this frozen copy, not the engine's own record: an observer
cannot change the state the engine goes on with, and the engine's storage details
(its history entries, the index it is filed under, its lease) stay its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from superflow.store import Participant


@dataclass(frozen=True)
class ParticipantView:
    """``id`` is ``<flow id>.<number>``; ``step`` the id of the step the participant is
    at (``None`` once finished); ``status`` ``active``, ``waiting``, ``completed``,
    ``succeeded``, ``exited`` or ``cancelled``; ``event`` the data of the event that
    enrolled them; ``actions`` what they did in this flow (``"email.opened@<step>"``);
    ``last_sending`` the last message sent to them."""

    id: str
    flow_id: str
    person_id: str
    version: int
    status: str
    step: str | None
    enrolled: float
    updated: float
    source: str
    event: Mapping[str, Any]
    reason: str
    last_sending: Mapping[str, Any] | None
    succeeded: float | None
    actions: tuple[str, ...]

    @classmethod
    def of(cls, participant: Participant) -> ParticipantView:
        return cls(
            id=participant.id,
            flow_id=participant.flow_id,
            person_id=participant.person_id,
            version=participant.version,
            status=participant.status,
            step=participant.step,
            enrolled=participant.enrolled,
            updated=participant.updated,
            source=participant.source,
            event=MappingProxyType(dict(participant.event)),
            reason=participant.reason,
            last_sending=None
            if participant.last_sending is None
            else MappingProxyType(dict(participant.last_sending)),
            succeeded=participant.succeeded,
            actions=tuple(participant.actions),
        )
