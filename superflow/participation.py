"""Changing one participation from outside the engine: remove it from its flow, or
move it to another step (the JSON API and the admin use these).

Both take the participant's lease as the engine's jobs do, so a job that is moving
the participant just now and this change never overlap; a busy participant is
refused (:class:`ParticipantBusy`) and the caller tries again.  The change and the
job that comes next are written in one MULTI/EXEC, as in the engine.

The engine does the transition (:meth:`Lifecycle.remove_participant`,
:meth:`Lifecycle.move_participant`); this module checks the request and names what is
wrong with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from superflow.store import Participant

if TYPE_CHECKING:
    from superflow.flow import Flow
    from superflow.runtime import Runtime


class ParticipantNotFound(KeyError):
    def __str__(self) -> str:
        return f"no participant {self.args[0]}"


class ParticipantBusy(Exception):
    """Another job holds the participant just now."""


class ParticipationError(ValueError):
    """A change the participant's state does not allow; ``field`` names the culprit."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def check_manual_enrolment(rt: Runtime, flow: Flow, status: str) -> None:
    """Raise :class:`ParticipationError` (naming ``trigger`` or ``status``) when people
    may not be added to ``flow`` by hand: its trigger does not allow it, or the flow
    (``status``: its current status) is not running or paused."""
    trigger = flow.doc["trigger"]
    if trigger and not rt.registry.trigger(trigger["type"]).allows_manual_enrolment:
        raise ParticipationError(
            f"the trigger of flow {flow.id} ({trigger['type']}) does not allow enrolment by hand", "trigger"
        )
    if status not in ("running", "paused"):
        raise ParticipationError(f"flow {flow.id} is {status}; start it before enrolling people", "status")


def remove(rt: Runtime, pid: str, reason: str = "removed") -> Participant:
    """End an active participation as ``cancelled`` (history is kept)."""
    _active(rt, pid)
    if rt.engine.remove_participant(pid, reason) is None:
        raise ParticipantBusy(f"participant {pid} is being moved by a job; try again in a moment")
    return rt.store.participant(pid)


def move_to_step(rt: Runtime, pid: str, step_id: str, note: str = "moved") -> Participant:
    """Put an active participant at ``step_id`` of its flow version and run it from there."""
    p = _active(rt, pid)
    flow = rt.engine.flow(p.flow_id, p.version)
    if flow is None or step_id not in flow.steps:
        known = ", ".join(sorted(flow.steps)) if flow is not None else ""
        raise ParticipationError(
            f"flow {p.flow_id} version {p.version} has no step {step_id!r} ({known})", "step_id"
        )
    if rt.engine.move_participant(pid, step_id, note) is None:
        raise ParticipantBusy(f"participant {pid} is being moved by a job; try again in a moment")
    return rt.store.participant(pid)


def _active(rt: Runtime, pid: str) -> Participant:
    p = rt.store.participant(pid)
    if p is None:
        raise ParticipantNotFound(pid)
    if p.status != "active":
        raise ParticipationError(f"participant {pid} is {p.status}, not active", "status")
    return p
