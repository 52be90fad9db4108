"""Participants: a flow's participants (paged, by status or step), one with its
history, enrolment of persons or a selection, removal, and moving to a step."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from superflow import participation
from superflow import queueing
from superflow import roster
from superflow.webapp.api.auth import by
from superflow.webapp.api.auth import needs
from superflow.webapp.api.errors import ApiError
from superflow.webapp.api.flows import existing
from superflow.webapp.api.schemas import EnrolSchema
from superflow.webapp.api.schemas import MoveSchema
from superflow.webapp.api.schemas import ParticipantDetailSchema
from superflow.webapp.api.schemas import ParticipantListSchema
from superflow.webapp.api.schemas import ParticipantQuerySchema
from superflow.webapp.api.schemas import ParticipantSchema
from superflow.webapp.api.schemas import QueuedSchema
from superflow.webapp.runtime import runtime

blp = Blueprint(
    "api_participants", __name__, url_prefix="/api/v1", description="Participants: who is where in a flow."
)


@blp.route("/flows/<flow_id>/participants", methods=["GET"])
@blp.arguments(ParticipantQuerySchema, location="query")
@blp.response(200, ParticipantListSchema)
@needs("read")
def list_participants(query: dict[str, Any], flow_id: str) -> dict[str, Any]:
    """Newest first unless ``sort``/``order`` say otherwise.  ``offset`` and
    ``total`` count the filtered list; pass ``next_offset`` back to get the next
    page.  Read from the flow's indexes: any page of any size of flow is quick."""
    rt = runtime()
    meta = existing(rt, flow_id)
    steps: list[str] = []
    if query["sort"] == "step":
        flow = rt.engine.flow(flow_id, int(meta["version"]))
        steps = list(flow.steps) if flow is not None else []
    found = roster.page(
        rt.redis,
        flow_id,
        status=query["status"],
        step=query["step"],
        sort=query["sort"],
        descending=query["order"] == "desc",
        offset=query["offset"],
        limit=query["limit"],
        steps=steps,
    )
    loaded = rt.store.participants(found.ids)
    return {
        "participants": [loaded[pid].to_dict() for pid in found.ids if pid in loaded],
        "total": found.total,
        "offset": found.offset,
        "limit": found.limit,
        "next_offset": found.next_offset,
    }


@blp.route("/flows/<flow_id>/participants", methods=["POST"])
@blp.arguments(EnrolSchema)
@blp.response(202, QueuedSchema)
@needs("run")
def enrol(body: dict[str, Any], flow_id: str) -> dict[str, Any]:
    """Enrol persons or a selection's members (filters, the exclusion selection and
    the re-enrolment rule apply).  Queued for a worker; only for flows whose trigger
    allows adding people by hand."""
    rt = runtime()
    meta = existing(rt, flow_id)
    flow = rt.engine.flow(flow_id, int(meta["version"]))
    if flow is not None:
        try:
            participation.check_manual_enrolment(rt, flow, meta["status"])
        except participation.ParticipationError as exc:
            raise ApiError(409, str(exc), exc.field) from None
    people = list(dict.fromkeys(body["person_ids"]))
    if people:
        known = rt.crm.get_persons(people)
        for i, pid in enumerate(people):
            if pid not in known:
                raise ApiError(422, f"no person {pid} in the CRM", f"person_ids[{i}]")
    if body["selection_id"]:
        try:
            people += rt.crm.selection_members(body["selection_id"])
        except Exception as exc:  # each CRM backend says "no such selection" its own way
            raise ApiError(422, str(exc), "selection_id") from None
    if not people:
        raise ApiError(422, f"selection {body['selection_id']} has no members", "selection_id")
    people = list(dict.fromkeys(people))
    queueing.enqueue_enrol(rt, flow_id, people, f"manual ({by()})")
    return {
        "queued": len(people),
        "message": f"enrolment of {len(people)} person(s) in flow {flow_id} queued",
    }


@blp.route("/participants/<participant_id>", methods=["GET"])
@blp.response(200, ParticipantDetailSchema)
@needs("read")
def get_participant(participant_id: str) -> dict[str, Any]:
    """One participant with its step history."""
    p = runtime().store.participant(participant_id)
    if p is None:
        raise participation.ParticipantNotFound(participant_id)
    return dict(p.to_dict(), history=p.history)


@blp.route("/participants/<participant_id>", methods=["DELETE"])
@blp.response(200, ParticipantSchema)
@needs("run")
def remove(participant_id: str) -> dict[str, Any]:
    """Take an active participant out of its flow (``cancelled``; history kept)."""
    return participation.remove(runtime(), participant_id, f"removed by {by()}").to_dict()


@blp.route("/participants/<participant_id>/move", methods=["POST"])
@blp.arguments(MoveSchema)
@blp.response(200, ParticipantSchema)
@needs("run")
def move(body: dict[str, Any], participant_id: str) -> dict[str, Any]:
    """Put an active participant at another step; a worker runs it from there."""
    rt = runtime()
    p = rt.store.participant(participant_id)
    if p is None:
        raise participation.ParticipantNotFound(participant_id)
    try:
        return participation.move_to_step(rt, participant_id, body["step_id"], f"moved by {by()}").to_dict()
    except participation.ParticipationError as exc:
        status = 422 if exc.field == "step_id" else 409
        raise ApiError(status, str(exc), exc.field or "(state)") from None
