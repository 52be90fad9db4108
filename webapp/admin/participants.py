"""The Participants tab: a paged, sortable, filterable grid of a flow's participants
read from the roster indexes (never loading them all), one participant's step
history, and the flow administrator's remove and move actions."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import request
from flask import url_for

from superflow import failures
from superflow import flows
from superflow import participation
from superflow import roster
from superflow.flow import Flow
from superflow.registry import UnknownComponent
from superflow.runtime import Runtime
from superflow.store import Participant
from superflow.webapp.admin.views import existing_flow
from superflow.webapp.admin.views import flow_page
from superflow.webapp.admin.views import when
from superflow.webapp.auth import login_required
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = Blueprint("participants", __name__)

PAGE_SIZE = 50
ORDERS = ("desc", "asc")


def _persons(rt: Runtime, person_ids: list[str]) -> tuple[dict[str, dict[str, Any]], str]:
    """The page's persons in one batch read; a CRM that fails leaves the grid usable."""
    try:
        return rt.crm.get_persons(person_ids), ""
    except Exception as exc:  # any CRM backend's failure
        return {}, f"The CRM did not answer ({exc}); names and companies are missing."


@bp.app_template_filter("waiting_words")
def waiting_words(p: Participant) -> str:
    """What a participant waits for, as the grid and its page say it: "retrying:
    Email not sent: … (attempt 2, next try 17:49)" for a step that failed, else
    "waiting until 17:49"."""
    wait = p.wait or {}
    if not wait:
        return ""
    at = float(wait.get("u", 0))
    next_at = time.strftime("%H:%M", time.localtime(at)) if _today(at) else when(at)
    if wait.get("k") == "goal":
        return f"past the last step; success still counts until {next_at}"
    if wait.get("k") != "retry":
        return f"waiting until {next_at}"
    note = next((e[3] for e in reversed(p.entries) if e[2] == "waiting" and e[1] == (p.step or "")), "")
    reason = failures.in_words(note) if note else "the step failed"
    if wait.get("c"):
        return f"retrying: {reason} (next try when it works again, at the latest {next_at})"
    return f"retrying: {reason} (attempt {int(wait.get('n', 0)) + 1}, next try {next_at})"


def _today(ts: float) -> bool:
    return time.localtime(ts)[:3] == time.localtime()[:3]


def _step_labels(rt: Runtime, flow: Flow) -> dict[str, str]:
    return {sid: flow.step_label(sid, rt.registry) for sid in flow.steps}


KIND_WORDS = {
    "enrolled": "Enrolled",
    "step": "Step",
    "event": "Did",
    "waiting": "Waiting",
    "resumed": "Went on",
    "moved": "Moved",
    "succeeded": "Succeeded",
    "completed": "Completed",
    "exited": "Left the flow",
    "cancelled": "Cancelled",
}


def _happenings(rt: Runtime, flow: Flow) -> dict[str, str]:
    """What an event type or a trigger's name means in words: the label of the
    installed trigger (or success criterion) that listens for it ("date.reached",
    "date_reached" → "Date reached"); this flow's own trigger is asked first."""
    words: dict[str, str] = {}
    ref = flow.doc.get("trigger") or {}
    kinds = ("triggers", "success_criteria")
    parts = [rt.registry.all(kind).values() for kind in kinds]
    for component in [c for group in parts for c in group]:
        for name in (component.name, *getattr(component, "event_types", ())):
            words.setdefault(name, component.label)
    with contextlib.suppress(UnknownComponent):
        trigger = rt.registry.trigger(str(ref.get("type", "")))
        for name in (trigger.name, *trigger.event_types):
            words[name] = trigger.label
    return words


def source_words(source: str, happenings: dict[str, str]) -> str:
    """How a person came into the flow, in words: the trigger's label for the event
    that enrolled them, "Added by hand (admin)" for a manual enrolment."""
    if source in happenings:
        return happenings[source]
    if source.startswith("manual"):
        return "Added by hand" + source[len("manual") :]
    return source[:1].upper() + source[1:]


def step_words(step_id: str, labels: dict[str, str], rt: Runtime) -> str:
    """A step as the history names it: its title in the participant's version of the
    flow (``labels``; steps of other versions are in it too, marked as no longer in
    the flow), never its id."""
    return labels.get(step_id, "A step no longer in the flow")


def _labels_of_all_versions(rt: Runtime, flow: Flow) -> dict[str, str]:
    """The titles of ``flow``'s steps, and of steps other versions had that this one
    has not ("Step 3 'Text a hello', no longer in the flow"): a history can name a
    step removed since, or a step of a later version the participant was moved to."""
    labels = _step_labels(rt, flow)
    for version in sorted(rt.store.flow_versions(flow.id), reverse=True):
        if version == flow.version:
            continue
        with contextlib.suppress(Exception):  # an old version a plugin no longer reads
            other = flows.get(rt, flow.id, version)
            for sid in other.steps:
                labels.setdefault(sid, f"{other.step_label(sid, rt.registry)}, no longer in the flow")
    return labels


def history_words(
    rt: Runtime, flow: Flow, entries: list[dict[str, Any]], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """The participant's history for people: each entry's kind, step and note in
    labels, never an event type, a trigger's or a step's internal name."""
    happenings = _happenings(rt, flow)
    shown = []
    for entry in entries:
        kind, note, step = entry.get("kind", ""), entry.get("note") or "", entry.get("step") or ""
        if kind == "enrolled":
            note = source_words(note, happenings)
        elif kind == "event":
            note = happenings.get(note, note.replace(".", " ").replace("_", " ").capitalize())
        elif kind == "moved" and " to " in note:
            head, target = note.rsplit(" to ", 1)
            note = f"{head} to {step_words(target, labels, rt)}"
        shown.append(
            entry
            | {
                "kind_words": KIND_WORDS.get(kind, kind.replace("_", " ").capitalize()),
                "step_words": step_words(step, labels, rt) if step else "",
                "note": note,
            }
        )
    return shown


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
    labels = _labels_of_all_versions(rt, version)
    persons, problem = _persons(rt, [p.person_id])
    return flow_page(
        flow,
        "participant",
        p=p,
        person=persons.get(p.person_id),
        problem=problem,
        history=history_words(rt, version, list(reversed(p.history)), labels),
        source_words=source_words(p.source or "", _happenings(rt, version)) if p.source else "",
        current_step=step_words(p.step, labels, rt) if p.step else "",
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
