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
from typing import Any

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


def manual_enrolment_closed(rt: Runtime, flow: Flow) -> str:
    """Why nobody can be added to ``flow`` by hand now, in a marketer's words, or ``""``:
    what :func:`check_manual_enrolment` checks, for screens that add people from the
    CRM (a paused flow is refused here too: a person added to it would wait unseen)."""
    trigger = flow.doc["trigger"]
    if trigger and not rt.registry.trigger(trigger["type"]).allows_manual_enrolment:
        label = rt.registry.trigger(trigger["type"]).label
        return f"{flow.name} takes people only through its trigger ({label}), not by hand."
    if flow.status == "paused":
        return f"{flow.name} is paused: resume it first."
    if flow.status != "running":
        return f"{flow.name} is {flow.status}: only a running flow takes people in."
    return ""


def manual_enrolment_refusal(rt: Runtime, flow: Flow, person: dict[str, Any]) -> str:
    """Why adding ``person`` to ``flow`` by hand now would enrol nobody, in a
    marketer's words ("Anna Berg has been in Welcome series already; it takes each
    person once."), or ``""`` when the enrolment job will enrol them.

    The engine decides when the job runs (:meth:`Enrolment.enrol` applies the same
    re-enrolment rule, filters and exclusion selection); this reads the same state
    beforehand so that a screen adding one person can say why not at once."""
    name = person.get("full_name") or person.get("email") or f"Person {person['id']}"
    closed = manual_enrolment_closed(rt, flow)
    if closed:
        return closed
    rule = flow.doc["reenrollment"]
    latest = rt.store.person_participations([str(person["id"])])[str(person["id"])].get(flow.id)
    before = rt.store.participant(latest) if latest else None
    if latest and rule == "once":
        return f"{name} has been in {flow.name} already; it takes each person once."
    if before is not None and before.status == "active" and rule == "after_end":
        return f"{name} is in {flow.name} already; they can join again when they have finished."
    if not rt.engine.conditions.filters_pass(flow.doc["filters"], person, None):
        return f"{name} does not pass the filters of {flow.name} (who may enter)."
    exclusion = flow.doc.get("exclusion_selection")
    if exclusion and rt.crm.members_of(exclusion, [str(person["id"])]):
        names = {str(s["id"]): s["name"] for s in rt.crm.list_selections()}
        left_out = names.get(str(exclusion), exclusion)
        return f"{name} is in the selection {left_out}, which {flow.name} leaves out."
    return ""


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
