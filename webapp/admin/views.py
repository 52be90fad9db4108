"""The admin's pages: the flows list and a flow's tabs (summary, flow chart, reports,
participants, content).  Pages only read; what changes state is in ``actions``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import Blueprint
from flask import abort
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import failures
from superflow import flows
from superflow import form_uses
from superflow import forms
from superflow import keys
from superflow import reports
from superflow import users
from superflow.flow import Flow
from superflow.flow import readiness
from superflow.runtime import Runtime
from superflow.stepping import MAX_STEP_ATTEMPTS
from superflow.webapp.admin import describe
from superflow.webapp.auth import login_required
from superflow.webapp.runtime import runtime

bp = Blueprint("views", __name__)

LIST_TABS = ("all", "recent", "running")
VIEWS = ("tiles", "list")
RECENT_KEEP = 20
REPORT_DAYS = 30


@bp.app_template_filter("when")
def when(ts: float | str | None) -> str:
    return time.strftime("%d %b %Y %H:%M", time.localtime(float(ts))) if ts else ""


@bp.app_template_filter("ago")
def ago(ts: float | str | None) -> str:
    """How marketers read recent times: "3 min ago", "yesterday"."""
    if not ts:
        return ""
    seconds = time.time() - float(ts)
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "min")):
        if seconds >= size:
            n = int(seconds // size)
            if unit == "day" and n == 1:
                return "yesterday"
            if unit == "day" and n > 30:
                return time.strftime("%d %b %Y", time.localtime(float(ts)))
            return f"{n} {unit}{'s' if n > 1 and unit != 'min' else ''} ago"
    return ""


@bp.app_template_filter("percent")
def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f}%"


@bp.app_template_filter("number")
def number(value: int | float | None) -> str:
    return f"{int(value or 0):,}".replace(",", "\u202f")


def existing_flow(rt: Runtime, flow_id: str) -> Flow:
    try:
        return flows.get(rt, flow_id)
    except flows.FlowNotFound:
        abort(404, description=f"There is no flow {flow_id}. It may have been deleted.")


def can(action: str) -> bool:
    """What the signed-in user's role allows: ``run`` (flows and participants) or
    ``edit`` (the content of flows).  The actions check it again on the server."""
    role = g.user["role"] if g.get("user") else ""
    return role == "flow_admin" or (action == "edit" and role == "content_editor")


@bp.app_context_processor
def permissions() -> dict[str, Any]:
    return {"can": can, "role_label": users.role_name}


@bp.get("/")
@login_required
def index():
    rt = runtime()
    username = g.user["username"]
    chosen = request.args.get("view")
    if chosen in VIEWS:
        rt.redis.hset(keys.user(username), "flows_view", chosen)
    view = chosen if chosen in VIEWS else rt.redis.hget(keys.user(username), "flows_view") or "tiles"
    tab = request.args.get("tab", "all")
    if tab not in LIST_TABS:
        tab = "all"
    query = request.args.get("q", "").strip()
    rows = flows.list_flows(rt)
    recent = rt.redis.zrevrange(keys.user_recent(username), 0, -1)
    order = {fid: i for i, fid in enumerate(recent)}
    counts = {
        "all": len(rows),
        "running": sum(1 for r in rows if r["status"] == "running"),
        "recent": sum(1 for r in rows if r["id"] in order),
    }
    if tab == "running":
        rows = [r for r in rows if r["status"] == "running"]
    elif tab == "recent":
        rows = sorted((r for r in rows if r["id"] in order), key=lambda r: order[r["id"]])
    if query:
        rows = [r for r in rows if query.lower() in (r["name"] or "").lower()]
    labels = describe.Labels(rt)
    for row in rows:
        row["trigger_words"] = describe.component_words(rt.registry, "triggers", row["trigger_ref"], labels)
    return render_template("admin/index.html", flows=rows, tab=tab, view=view, query=query, counts=counts)


def _remember(rt: Runtime, flow_id: str) -> None:
    key = keys.user_recent(g.user["username"])
    pipe = rt.redis.pipeline(transaction=False)
    pipe.zadd(key, {flow_id: time.time()})
    pipe.zremrangebyrank(key, 0, -RECENT_KEEP - 1)
    pipe.execute()


def step_trouble(rt: Runtime, flow: Flow, stats: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The flow's steps with participants retrying or failed, in step order: each with
    ``label``, ``summary`` ("3 retrying · 1 failed") and its latest ``reasons``."""
    order = sorted(flow.steps, key=flow.number.get)
    found = failures.troubled(failures.step_trouble(rt.redis, flow.id, order, stats))
    return {
        sid: dict(entry, id=sid, label=flow.step_label(sid, rt.registry), summary=failures.summary(entry))
        for sid, entry in found.items()
    }


def flow_page(flow: Flow, tab: str, stats: dict[str, int] | None = None, **context: Any) -> str:
    """A tab of the flow's page; ``stats`` when the caller has just read them."""
    rt = runtime()
    _remember(rt, flow.id)
    meta = rt.store.flow_meta(flow.id)
    stats = rt.store.stats(flow.id) if stats is None else stats
    enrolled = stats.get("enrolled", 0)
    return render_template(
        f"admin/flow_{tab}.html",
        flow=flow,
        meta=meta,
        tab=tab,
        stats=stats,
        success_rate=stats.get("succeeded", 0) / enrolled if enrolled else None,
        **context,
    )


@bp.get("/flows/<flow_id>")
@login_required
def flow(flow_id: str):
    rt = runtime()
    current = existing_flow(rt, flow_id)
    trigger = current.doc["trigger"]
    manual = bool(trigger) and rt.registry.trigger(trigger["type"]).allows_manual_enrolment
    stats = rt.store.stats(current.id)
    return flow_page(
        current,
        "summary",
        stats=stats,
        trouble=step_trouble(rt, current, stats),
        max_attempts=MAX_STEP_ATTEMPTS,
        words=describe.summary(rt.registry, current, describe.Labels(rt)),
        problems=readiness(current, rt.registry) if current.status == "draft" else [],
        manual_enrolment=manual,
        selections=_selections(rt) if manual and can("run") else [],
        steps_total=len(current.steps),
    )


def _selections(rt: Runtime) -> list[dict[str, Any]]:
    try:
        return rt.crm.list_selections()
    except Exception:  # the CRM being down must not take the page with it
        return []


@bp.get("/flows/<flow_id>/chart")
@login_required
def chart(flow_id: str):
    rt = runtime()
    current = existing_flow(rt, flow_id)
    labels = describe.Labels(rt)
    stats = rt.store.stats(current.id)
    return flow_page(
        current,
        "chart",
        stats=stats,
        trouble=step_trouble(rt, current, stats),
        tree=describe.step_tree(rt.registry, current, labels),
        trigger_words=describe.component_words(rt.registry, "triggers", current.doc["trigger"], labels),
    )


def report_data(rt: Runtime, current: Flow) -> dict[str, Any]:
    """What the Reports tab draws, from counters only (the same for 10 or 10 million
    participants)."""
    until = dt.datetime.fromtimestamp(rt.clock.now(), dt.UTC).date()
    report = reports.flow_report(rt, current, until - dt.timedelta(days=REPORT_DAYS - 1), until)
    report["success_series"] = reports.success_rate_series(report["daily"])
    report["status"] = current.status
    return report


@bp.get("/flows/<flow_id>/reports")
@login_required
def flow_reports(flow_id: str):
    rt = runtime()
    current = existing_flow(rt, flow_id)
    report = report_data(rt, current)
    return flow_page(
        current,
        "reports",
        stats=report["stats"],
        report=report,
        email_figures=reports.EMAIL_FIGURES,
        sms_figures=reports.SMS_FIGURES,
    )


@bp.get("/flows/<flow_id>/live.json")
@login_required
def live(flow_id: str):
    """The figures the open tabs poll to stay current while the flow runs."""
    rt = runtime()
    return jsonify(report_data(rt, existing_flow(rt, flow_id)))


@bp.get("/flows/<flow_id>/edit")
@login_required
def edit(flow_id: str):
    return redirect(url_for("views.content", flow_id=flow_id))


@bp.get("/flows/<flow_id>/content")
@login_required
def content(flow_id: str):
    from superflow import content as flow_content

    rt = runtime()
    current = existing_flow(rt, flow_id)
    person_id = request.args.get("person", "").strip() or _demo_person(rt)
    error = ""
    messages: list[dict[str, Any]] = []
    person = None
    if person_id:
        try:
            messages = flow_content.flow_content(rt, current, person_id)
            person = rt.crm.get_person(person_id)
        except LookupError as exc:
            error = str(exc).strip("'\"")
    return flow_page(
        current,
        "content",
        messages=messages,
        person_id=person_id,
        person=person,
        error=error,
        forms_used=_forms_used(rt, current),
    )


def _forms_used(rt: Runtime, flow: Flow) -> list[dict[str, Any]]:
    """The forms the flow names, each with where and its name (or that it was deleted)."""
    found = []
    for use in form_uses.uses(flow, rt.registry):
        try:
            name, exists = forms.get(rt.redis, use.form_id).get("name") or use.form_id, True
        except forms.FormNotFound:
            name, exists = forms.deleted_name(rt.redis, use.form_id) or use.form_id, False
        found.append({"id": use.form_id, "where": use.where, "name": name, "exists": exists})
    return found


def _demo_person(rt: Runtime) -> str:
    """The first member of the CRM's first selection: a real person to render with."""
    for selection in _selections(rt):
        try:
            members = rt.crm.selection_members(str(selection["id"]))
        except Exception:
            continue
        if members:
            return str(members[0])
    return ""
