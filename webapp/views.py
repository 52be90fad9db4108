"""The pages: the list of flows and a flow's participants (read-only for now)."""

from __future__ import annotations

import time

from flask import Blueprint, abort, render_template

from superflow import flows
from superflow.webapp.auth import login_required
from superflow.webapp.runtime import runtime

bp = Blueprint("views", __name__)


@bp.app_template_filter("when")
def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


@bp.get("/")
@login_required
def index():
    rt = runtime()
    rows = flows.list_flows(rt)
    for row in rows:
        row["trigger_label"] = rt.engine.component_label("triggers", row["trigger"]) if row["trigger"] else ""
    return render_template("index.html", flows=rows)


@bp.get("/flows/<flow_id>")
@login_required
def flow(flow_id: str):
    rt = runtime()
    try:
        current = flows.get(rt, flow_id)
    except flows.FlowNotFound:
        abort(404)
    ids = rt.store.flow_participant_ids(flow_id, limit=100)
    participants = sorted(rt.store.participants(ids).values(), key=lambda p: -p.enrolled)
    steps = [
        {"id": sid, "label": current.step_label(sid, rt.registry)}
        for sid in sorted(current.steps, key=current.number.get)
    ]
    return render_template(
        "flow.html", flow=current, stats=rt.store.stats(flow_id), steps=steps, participants=participants
    )
