"""The Participants tab: a paged, sortable, filterable grid of a flow's participants
read from the roster indexes (never loading them all), one participant's step
history, and the flow administrator's remove and move actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for

from superflow import participation, roster
from superflow.flow import Flow
from superflow.runtime import Runtime
from superflow.store import Participant
from superflow.webapp.auth import login_required, role_required
from superflow.webapp.runtime import runtime
from superflow.webapp.views import existing_flow, flow_page

bp = Blueprint("participants", __name__)

PAGE_SIZE = 50
ORDERS = ("desc", "asc")


def _persons(rt: Runtime, person_ids: list[str]) -> tuple[dict[str, dict[str, Any]], str]:
    """The page's persons in one batch read; a CRM that fails leaves the grid usable."""
    try:
        return rt.crm.get_persons(person_ids), ""
    except Exception as exc:  # any CRM backend's failure
        return {}, f"The CRM did not answer ({exc}); names and companies are missing."


def _step_labels(rt: Runtime, flow: Flow) -> dict[str, str]:
    return {sid: flow.step_label(sid, rt.registry) for sid in flow.steps}


@bp.get("/flows/<flow_id>/participants")
@login_required
def grid(flow_id: str):
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    args = request.args
    status = args.get("status") or None
    step = args.get("step") or None
    sort = args.get("sort", "enrolled")
    order = args.get("order", "desc")
    if status is not None and status not in roster.STATUSES:
        abort(400, description=f"status: choose one of {', '.join(roster.STATUSES)}")
    if step is not None and step not in flow.steps:
        abort(400, description=f"step: flow {flow_id} has no step {step!r}")
    if sort not in roster.SORTS:
        abort(400, description=f"sort: choose one of {', '.join(roster.SORTS)}")
    if order not in ORDERS:
        abort(400, description="order: choose asc or desc")
    try:
        number = max(1, int(args.get("page", "1")))
    except ValueError:
        abort(400, description="page: give a page number")
    search = args.get("q", "").strip()
    problem = ""
    if search:
        ids, problem = _search(rt, flow_id, search)
        total = len(ids)
    else:
        found = roster.page(
            rt.redis,
            flow_id,
            status=status,
            step=step,
            sort=sort,
            descending=order == "desc",
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
            steps=sorted(flow.steps, key=flow.number.get),
        )
        ids, total = found.ids, found.total
    loaded = rt.store.participants(ids)
    rows = [loaded[pid] for pid in ids if pid in loaded]
    persons, crm_problem = _persons(rt, list(dict.fromkeys(p.person_id for p in rows)))
    return flow_page(
        flow,
        "participants",
        rows=rows,
        persons=persons,
        problem=problem or crm_problem,
        total=total,
        page=number,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters={"status": status, "step": step, "sort": sort, "order": order, "q": search},
        counts=roster.counts(rt.redis, flow_id),
        step_labels=_step_labels(rt, flow),
        step_order=sorted(flow.steps, key=flow.number.get),
        statuses=roster.STATUSES,
    )


def _search(rt: Runtime, flow_id: str, text: str) -> tuple[list[str], str]:
    """A person's participation in this flow, by email address or person id."""
    try:
        person = rt.crm.find_person(text)
    except Exception as exc:  # any CRM backend's failure
        return [], f"The CRM did not answer ({exc})."
    if not person:
        return [], f"No person {text!r} in the CRM."
    pid = rt.store.person_participations([str(person["id"])])[str(person["id"])].get(flow_id)
    if not pid:
        return [], f"{person.get('full_name') or text} has not taken part in this flow."
    return [pid], ""


def _participant(rt: Runtime, flow_id: str, pid: str) -> Participant:
    p = rt.store.participant(pid)
    if p is None or p.flow_id != flow_id:
        abort(404, description=f"Flow {flow_id} has no participant {pid}.")
    return p


@bp.get("/flows/<flow_id>/participants/<pid>")
@login_required
def detail(flow_id: str, pid: str):
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    p = _participant(rt, flow_id, pid)
    version = rt.engine.flow(flow_id, p.version) or flow
    persons, problem = _persons(rt, [p.person_id])
    return flow_page(
        flow,
        "participant",
        p=p,
        person=persons.get(p.person_id),
        problem=problem,
        history=list(reversed(p.history)),
        step_labels=_step_labels(rt, version),
        step_order=sorted(version.steps, key=version.number.get),
    )


@bp.post("/flows/<flow_id>/participants/<pid>/remove")
@role_required("flow_admin")
def remove(flow_id: str, pid: str):
    rt = runtime()
    existing_flow(rt, flow_id)
    _participant(rt, flow_id, pid)
    try:
        participation.remove(rt, pid, f"removed by {g.user['username']}")
        flash(f"Participant {pid} was removed from the flow.")
    except (participation.ParticipationError, participation.ParticipantBusy) as exc:
        flash(str(exc), "error")
    return redirect(url_for("participants.detail", flow_id=flow_id, pid=pid))


@bp.post("/flows/<flow_id>/participants/<pid>/move")
@role_required("flow_admin")
def move(flow_id: str, pid: str):
    rt = runtime()
    existing_flow(rt, flow_id)
    _participant(rt, flow_id, pid)
    step_id = request.form.get("step_id", "")
    try:
        participation.move_to_step(rt, pid, step_id, f"moved by {g.user['username']}")
        flash(f"Participant {pid} was moved; a worker runs the step next.")
    except participation.ParticipationError as exc:
        if exc.field == "step_id":
            abort(400, description=f"step_id: {exc}")
        flash(str(exc), "error")
    except participation.ParticipantBusy as exc:
        flash(str(exc), "error")
    return redirect(url_for("participants.detail", flow_id=flow_id, pid=pid))
