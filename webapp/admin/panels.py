"""Screens for a CRM's frame (SuperOffice's web panels): a person's flows, a
company's persons and a selection's flows, each reached by the CRM's own id
(``/panels/person/17`` or ``/panels/person?id=17``, as a web panel's URL template
fills it in).

They are the admin's screens in a compact layout (``panels/base.html``) and act
through the admin's own paths: adding people queues the same enrolment job as the
flow's "Add people" form (:func:`superflow.queueing.enqueue_enrol`), so the engine
applies the flow's filters and re-enrolment rule; removing someone is
:func:`superflow.participation.remove`.  Every signed-in user may look; adding and
removing need the flow administrator's role, checked here.  A CRM that does not
answer gives a page saying so, not an error.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import flows
from superflow import participation
from superflow import people
from superflow import queueing
from superflow.flow import Flow
from superflow.runtime import Runtime
from superflow.webapp.admin.actions import RUN
from superflow.webapp.admin.views import existing_flow
from superflow.webapp.auth import login_required
from superflow.webapp.auth import protect
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = protect(Blueprint("panels", __name__, url_prefix="/panels"))

MAX_ID_DIGITS = 18
"""CRM ids are positive whole numbers that fit a 64-bit integer."""
JOIN_CHECKS = 15
"""How many times (once a second) a person's panel looks again for an enrolment it queued."""
COMPANY_PERSONS = 100
"""A company panel lists this many persons; the rest are counted."""
SELECTION_MEMBERS_READ = 5000
"""A selection panel counts the flows of this many members at most."""


class CrmDown(Exception):
    """The CRM did not answer a panel's question."""


def record_id(raw: str, what: str) -> str:
    """The CRM's id of a ``what`` from a URL, or a 400 naming what is wrong with it."""
    text = raw.strip()
    if not text:
        abort(400, description=f"id: give the {what}'s id in the CRM (the web panel's URL fills it in).")
    if not (text.isascii() and text.isdigit()):
        shown = text if len(text) <= 40 else text[:40] + "…"
        abort(400, description=f"id: a {what}'s id in the CRM is a number; {shown!r} is not one.")
    if len(text.lstrip("0")) > MAX_ID_DIGITS or not int(text):
        abort(400, description=f"id: {text[:40]} is not a {what} id the CRM can have.")
    return str(int(text))


def _asking(question: Any, *args: Any) -> Any:
    """``question(*args)`` of the CRM; any failure of its backend is :class:`CrmDown`."""
    try:
        return question(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # any CRM backend's failure
        raise CrmDown(str(exc)) from exc


def _crm_down(exc: CrmDown, title: str) -> Any:
    return render_template("panels/crm_down.html", title=title, reason=str(exc))


def _name(person: dict[str, Any]) -> str:
    return person.get("full_name") or person.get("email") or f"Person {person['id']}"


def _open_flows(rt: Runtime) -> list[dict[str, Any]]:
    """Running flows whose trigger lets people be added by hand: what a panel offers."""
    found = []
    for row in flows.list_flows(rt):
        if row["status"] != "running":
            continue
        trigger = row["trigger"]
        if trigger and not rt.registry.trigger(trigger).allows_manual_enrolment:
            continue
        found.append(row)
    return found


def _chosen_flow(rt: Runtime) -> Flow:
    flow_id = request.form.get("flow_id", "").strip()
    if not flow_id:
        abort(400, description="flow: choose the flow to add them to.")
    return existing_flow(rt, flow_id[:40])


def _person(rt: Runtime, person_id: str) -> dict[str, Any]:
    person = _asking(rt.crm.get_person, person_id)
    if person is None:
        abort(404, description=f"No person with id {person_id} in the CRM.")
    return person


# -- a person ---------------------------------------------------------------------
@bp.get("/person")
@login_required
def person_by_query():
    """``/panels/person?id=<atid>``: the URL a SuperOffice web panel fills in."""
    return person(request.args.get("id", ""))


@bp.get("/person/<raw_id>")
@login_required
def person(raw_id: str):
    rt = runtime()
    person_id = record_id(raw_id, "person")
    try:
        found = _person(rt, person_id)
    except CrmDown as exc:
        return _crm_down(exc, f"Person {person_id}")
    rows = people.participations(rt, person_id)
    joining = _joining(rt, found, rows)
    return render_template(
        "panels/person.html",
        person=found,
        name=_name(found),
        rows=rows,
        flows=_open_flows(rt),
        joining=joining,
        can_act=g.user["role"] in RUN,
    )


def _joining(rt: Runtime, person: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """After "Add to flow": whether the worker has enrolled them yet (``joined``), else
    the next check (``again``: the URL the page reloads, once a second, a few times)."""
    flow_id = request.args.get("joining", "")
    if not flow_id:
        return None
    meta = rt.store.flow_meta(flow_id)
    if not meta:
        return None
    before = request.args.get("before", "")
    now = next((row for row in rows if row["flow_id"] == flow_id), None)
    joined = now is not None and now["participant_id"] != before
    try:
        checks = max(0, min(int(request.args.get("checks", "0")), JOIN_CHECKS))
    except ValueError:
        checks = JOIN_CHECKS
    again = None
    if not joined and checks < JOIN_CHECKS:
        again = url_for(
            "panels.person", raw_id=person["id"], joining=flow_id, before=before or None, checks=checks + 1
        )
    return {"flow_name": meta.get("name") or f"Flow {flow_id}", "joined": joined, "again": again}


@bp.post("/person/<raw_id>/enrol")
@role_required(*RUN)
def enrol_person(raw_id: str):
    """Add the person to the flow chosen, or say at once why that would enrol nobody."""
    rt = runtime()
    person_id = record_id(raw_id, "person")
    flow = _chosen_flow(rt)
    try:
        found = _person(rt, person_id)
        refusal = _asking(participation.manual_enrolment_refusal, rt, flow, found)
    except CrmDown as exc:
        return _crm_down(exc, f"Person {person_id}")
    back = url_for("panels.person", raw_id=person_id)
    if refusal:
        flash(f"{_name(found)} was not added to {flow.name}: {refusal}", "error")
        return redirect(back)
    before = rt.store.person_participations([person_id])[person_id].get(flow.id, "")
    queueing.enqueue_enrol(rt, flow.id, [person_id], f"manual ({g.user['username']})")
    return redirect(url_for("panels.person", raw_id=person_id, joining=flow.id, before=before or None))


def _participation(rt: Runtime, person_id: str, flow_id: str) -> Any:
    """The person's latest participation in the flow, or a 404 saying there is none."""
    pid = rt.store.person_participations([person_id])[person_id].get(flow_id)
    p = rt.store.participant(pid) if pid else None
    if p is None:
        abort(404, description=f"Person {person_id} has not taken part in flow {flow_id[:40]}.")
    return p


@bp.route("/person/<raw_id>/flows/<flow_id>/remove", methods=["GET", "POST"])
@role_required(*RUN)
def remove_person(raw_id: str, flow_id: str):
    """A page that says what removing does, then (POST) the removal itself."""
    rt = runtime()
    person_id = record_id(raw_id, "person")
    try:
        found = _person(rt, person_id)
    except CrmDown as exc:
        return _crm_down(exc, f"Person {person_id}")
    p = _participation(rt, person_id, flow_id)
    flow = existing_flow(rt, flow_id)
    name = _name(found)
    if request.method == "GET":
        version = rt.engine.flow(flow_id, p.version) or flow
        step = version.step_label(p.step, rt.registry) if p.step in version.steps else ""
        return render_template(
            "panels/remove.html", person=found, name=name, flow=flow, participant=p, step=step
        )
    try:
        participation.remove(rt, p.id, f"removed by {g.user['username']}")
    except participation.ParticipationError:
        flash(f"{name} is no longer active in {flow.name}: there was nothing to remove.", "error")
    except participation.ParticipantBusy:
        flash(f"{name} is being moved on in {flow.name} just now: try again in a moment.", "error")
    else:
        flash(f"{name} was removed from {flow.name}. Their history is kept.")
    return redirect(url_for("panels.person", raw_id=person_id))


# -- a company --------------------------------------------------------------------
@bp.get("/company")
@login_required
def company_by_query():
    """``/panels/company?id=<cuid>``: SuperOffice's company id ("contact")."""
    return company(request.args.get("id", ""))


@bp.get("/company/<raw_id>")
@login_required
def company(raw_id: str):
    rt = runtime()
    company_id = record_id(raw_id, "company")
    try:
        found = _company(rt, company_id)
        person_ids = found["person_ids"]
        persons = _asking(rt.crm.get_persons, person_ids[:COMPANY_PERSONS])
    except NotImplementedError:
        return render_template(
            "panels/crm_down.html", title=f"Company {company_id}", reason="", unsupported=True
        )
    except CrmDown as exc:
        return _crm_down(exc, f"Company {company_id}")
    listed = [persons[pid] for pid in person_ids[:COMPANY_PERSONS] if pid in persons]
    return render_template(
        "panels/company.html",
        company=found,
        persons=[(p, _name(p), people.participations(rt, p["id"])) for p in listed],
        more=max(0, len(person_ids) - len(listed)),
        flows=_open_flows(rt),
        can_act=g.user["role"] in RUN,
    )


def _company(rt: Runtime, company_id: str) -> dict[str, Any]:
    found = _asking(rt.crm.get_company, company_id)
    if found is None:
        abort(404, description=f"No company with id {company_id} in the CRM.")
    return found


@bp.post("/company/<raw_id>/enrol")
@role_required(*RUN)
def enrol_company(raw_id: str):
    """Queue the company's persons for the flow chosen (filters and rule apply)."""
    rt = runtime()
    company_id = record_id(raw_id, "company")
    flow = _chosen_flow(rt)
    try:
        found = _company(rt, company_id)
    except CrmDown as exc:
        return _crm_down(exc, f"Company {company_id}")
    _queue(rt, flow, found["person_ids"], found.get("name") or f"Company {company_id}")
    return redirect(url_for("panels.company", raw_id=company_id))


def _queue(rt: Runtime, flow: Flow, person_ids: list[str], whose: str) -> None:
    """Queue ``person_ids`` for ``flow`` as the flow's "Add people" form does, and say so."""
    closed = participation.manual_enrolment_closed(rt, flow)
    if closed:
        flash(f"Nobody was added: {closed}", "error")
        return
    if not person_ids:
        flash(f"{whose} has nobody to add.", "error")
        return
    queueing.enqueue_enrol(rt, flow.id, person_ids, f"manual ({g.user['username']})")
    count = len(person_ids)
    flash(
        f"{count} {'person' if count == 1 else 'people'} of {whose} queued for {flow.name}. "
        "Its filters and re-enrolment rule decide who joins."
    )


# -- a selection ------------------------------------------------------------------
@bp.get("/selection")
@login_required
def selection_by_query():
    """``/panels/selection?id=<slid>``: SuperOffice's selection id."""
    return selection(request.args.get("id", ""))


@bp.get("/selection/<raw_id>")
@login_required
def selection(raw_id: str):
    rt = runtime()
    selection_id = record_id(raw_id, "selection")
    try:
        name = _selection_name(rt, selection_id)
        members = _asking(rt.crm.selection_members, selection_id)
    except CrmDown as exc:
        return _crm_down(exc, f"Selection {selection_id}")
    read = members[:SELECTION_MEMBERS_READ]
    taken_part: Counter[str] = Counter()
    for latest in rt.store.person_participations(read).values():
        taken_part.update(latest.keys())
    names = {row["id"]: row for row in flows.list_flows(rt)}
    in_flows = [(names[fid], n) for fid, n in taken_part.most_common() if fid in names]
    return render_template(
        "panels/selection.html",
        selection={"id": selection_id, "name": name},
        size=len(members),
        counted=len(read),
        in_flows=in_flows,
        flows=_open_flows(rt),
        can_act=g.user["role"] in RUN,
    )


def _selection_name(rt: Runtime, selection_id: str) -> str:
    for row in _asking(rt.crm.list_selections):
        if str(row["id"]) == selection_id:
            return row.get("name") or f"Selection {selection_id}"
    abort(404, description=f"No selection with id {selection_id} in the CRM.")


@bp.post("/selection/<raw_id>/enrol")
@role_required(*RUN)
def enrol_selection(raw_id: str):
    """Queue the selection's members for the flow chosen (filters and rule apply)."""
    rt = runtime()
    selection_id = record_id(raw_id, "selection")
    flow = _chosen_flow(rt)
    try:
        name = _selection_name(rt, selection_id)
        members = _asking(rt.crm.selection_members, selection_id)
    except CrmDown as exc:
        return _crm_down(exc, f"Selection {selection_id}")
    _queue(rt, flow, list(dict.fromkeys(str(m) for m in members)), name)
    return redirect(url_for("panels.selection", raw_id=selection_id))
