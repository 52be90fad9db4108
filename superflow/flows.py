"""Saving flows: create, update (with versions), copy, delete, import and export,
and the status changes that keep the trigger and criteria indexes right."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from copy import deepcopy
from typing import TYPE_CHECKING
from typing import Any

from superflow import form_uses
from superflow import keys
from superflow import link_actions
from superflow import samples
from superflow.flow import Flow
from superflow.flow import FlowInvalid
from superflow.flow import FlowNotReady
from superflow.flow import content_fields
from superflow.flow import parse_flow
from superflow.flow import readiness
from superflow.flow import settings_of
from superflow.registry import UnknownComponent
from superflow.sendwindow import zone

if TYPE_CHECKING:
    from superflow.runtime import Runtime


class FlowStateError(Exception):
    """An operation the flow's status does not allow (e.g. editing a running flow)."""


class FlowNotFound(KeyError):
    def __str__(self) -> str:
        return f"no flow {self.args[0]}"


def create(rt: Runtime, raw: Any, *, by: str = "") -> Flow:
    """Validate and store a new flow as a draft (version 1)."""
    flow = parse_flow(raw, rt.registry, fields=rt.crm.list_fields())
    flow.doc["status"] = "draft"
    flow_id = rt.store.new_flow_id()
    now = time.time()
    doc = json.dumps(flow.doc, separators=(",", ":"))
    pipe = rt.redis.pipeline()
    pipe.hset(
        keys.flow(flow_id),
        mapping={
            "id": flow_id,
            "name": flow.doc["name"],
            "status": "draft",
            "version": 1,
            "doc": doc,
            "created_at": now,
            "updated_at": now,
            "created_by": by,
            "updated_by": by,
        },
    )
    pipe.hset(keys.flow_versions(flow_id), "1", doc)
    pipe.zadd(keys.FLOWS, {flow_id: now})
    pipe.execute()
    return get(rt, flow_id)


def get(rt: Runtime, flow_id: str, version: int | None = None) -> Flow:
    meta = rt.store.flow_meta(flow_id)
    if not meta or meta.get("deleted"):
        raise FlowNotFound(flow_id)
    number = int(meta["version"]) if version is None else version
    doc = rt.store.flow_doc(flow_id, number)
    if doc is None:
        raise FlowNotFound(f"{flow_id} version {number}")
    doc["status"] = meta["status"]
    return parse_flow(doc, rt.registry, flow_id=flow_id, version=number)


def update(rt: Runtime, flow_id: str, raw: Any, *, by: str = "") -> Flow:
    """Store a new version.  A running flow must be paused first (participants keep
    their place, and the previous version stays readable) — unless only content
    changes (:func:`content_only`), which goes to the next sends at once."""
    current = get(rt, flow_id)
    if current.status == "ended":
        raise FlowStateError(f"flow {flow_id} has ended; copy it to make changes")
    flow = parse_flow(raw, rt.registry, fields=rt.crm.list_fields())
    if current.status == "running" and not content_only(current, flow, rt.registry):
        raise FlowStateError(
            f"flow {flow_id} is running; pause it before changing more than its texts and attachments"
        )
    return _new_version(rt, current, flow, by)


def update_content(
    rt: Runtime, flow_id: str, step_id: str, settings: dict[str, Any], *, by: str = ""
) -> Flow:
    """Change one step's content (texts, subjects, attachments) as a new version, in
    any status but ended, by either role: participants who have not reached the step
    get the new content.  ``None`` takes a setting back to its default.  A setting
    that is not content is refused, naming it."""
    current = get(rt, flow_id)
    if current.status == "ended":
        raise FlowStateError(f"flow {flow_id} has ended; copy it to make changes")
    if step_id not in current.steps:
        raise FlowInvalid([{"field": "step", "message": f"this flow has no step {step_id!r}"}])
    allowed = content_fields(rt.registry.step_type(current.steps[step_id]["type"]))
    other = sorted(set(settings) - set(allowed))
    if other:
        raise FlowInvalid(
            [{"field": name, "message": "not content: pause the flow to change it"} for name in other]
        )
    draft = deepcopy(current)  # its steps index still points into its own document
    stored = draft.steps[step_id].setdefault("settings", {})
    for name, value in settings.items():
        if value is None:
            stored.pop(name, None)
        else:
            stored[name] = value
    flow = parse_flow(draft.doc, rt.registry, fields=rt.crm.list_fields())
    return _new_version(rt, current, flow, by)


def content_only(old: Flow, new: Flow, registry: Any) -> bool:
    """Whether nothing but content differs between two versions (not the steps, their
    order, other settings, the trigger…)."""
    if set(old.steps) != set(new.steps):
        return False
    return _without_content(old, registry) == _without_content(new, registry)


def _without_content(flow: Flow, registry: Any) -> str:
    bare = deepcopy(flow)
    bare.doc.pop("status", None)
    for step in bare.steps.values():
        with contextlib.suppress(UnknownComponent):
            for name in content_fields(registry.step_type(step["type"])):
                step.get("settings", {}).pop(name, None)
    return json.dumps(bare.doc, sort_keys=True)


def _new_version(rt: Runtime, current: Flow, flow: Flow, by: str) -> Flow:
    """Store ``flow`` as the next version of ``current``.  A running flow's new
    version must be ready to run as it is (its next sends use it): what would keep a
    draft from starting is refused here, named."""
    flow_id, version = current.id, current.version + 1
    if current.status == "running":
        flow.id, flow.version = flow_id, version
        problems = not_ready(rt, flow)
        if problems:
            raise FlowInvalid([{"field": "(flow)", "message": problem} for problem in problems])
    flow.doc["status"] = current.status
    doc = json.dumps(flow.doc, separators=(",", ":"))
    pipe = rt.redis.pipeline()
    pipe.hset(keys.flow_versions(flow_id), str(version), doc)
    pipe.hset(
        keys.flow(flow_id),
        mapping={
            "name": flow.doc["name"],
            "version": version,
            "doc": doc,
            "updated_at": time.time(),
            "updated_by": by,
        },
    )
    if current.status == "paused":
        _unindex(pipe, rt, current)
        _index(pipe, rt, flow)
    pipe.execute()
    return get(rt, flow_id)


def copy(rt: Runtime, flow_id: str, *, by: str = "") -> Flow:
    doc = dict(get(rt, flow_id).doc)
    doc["name"] = f"Copy of {doc['name']}"
    return create(rt, doc, by=by)


def delete(rt: Runtime, flow_id: str) -> None:
    flow = get(rt, flow_id)
    if flow.status in ("running", "paused"):
        raise FlowStateError(f"flow {flow_id} is {flow.status}; end it before deleting it")
    pipe = rt.redis.pipeline()
    pipe.zrem(keys.FLOWS, flow_id)
    pipe.hset(keys.flow(flow_id), "deleted", "1")
    pipe.execute()


def list_flows(rt: Runtime) -> list[dict[str, Any]]:
    """Every flow with its status and participant counts, newest first; ``trigger`` is
    the trigger's type, ``trigger_ref`` the whole trigger (type and settings)."""
    rows = []
    ids = list(reversed(rt.store.flow_ids()))
    pipe = rt.redis.pipeline(transaction=False)
    for fid in ids:
        pipe.hmget(keys.flow(fid), "name", "status", "version", "updated_at", "doc")
        pipe.hgetall(keys.flow_stats(fid))
    replies = pipe.execute()
    for i, fid in enumerate(ids):
        name, status, version, updated, doc = replies[2 * i]
        stats = {k: int(v) for k, v in replies[2 * i + 1].items()}
        parsed = json.loads(doc) if doc else {}
        trigger_ref = parsed.get("trigger")
        enrolled = stats.get("enrolled", 0)
        rows.append(
            {
                "id": fid,
                "name": name,
                "status": status,
                "version": int(version or 0),
                "trigger": (trigger_ref or {}).get("type", ""),
                "trigger_ref": trigger_ref,
                "description": parsed.get("description", ""),
                "updated_at": float(updated or 0),
                "stats": stats,
                "success_rate": (stats.get("succeeded", 0) / enrolled) if enrolled else None,
            }
        )
    return rows


def steps_of_type(services: Any, step_type: str) -> list[dict[str, Any]]:
    """The steps of type ``step_type`` in every flow's current version, split branches
    included: ``{"flow_id", "flow_name", "status", "step_id", "settings"}`` each, so a
    plugin can say where something it keeps is used ("used by flows Welcome, Spring
    offer") without reading flows itself.  ``services`` is the runtime a plugin is handed."""
    found = []
    for row in list_flows(services):
        doc = json.loads(services.redis.hget(keys.flow(row["id"]), "doc") or "{}")
        pending = list(doc.get("steps") or [])
        while pending:
            step = pending.pop(0)
            if not isinstance(step, dict):
                continue
            if step.get("type") == step_type:
                found.append(
                    {
                        "flow_id": row["id"],
                        "flow_name": row["name"] or f"Flow {row['id']}",
                        "status": row["status"],
                        "step_id": str(step.get("id") or ""),
                        "settings": dict(step.get("settings") or {}),
                    }
                )
            for branch in step.get("branches") or []:
                pending += list((branch or {}).get("steps") or [])
            pending += list(step.get("everyone_else") or [])
    return found


def export(rt: Runtime, flow_id: str) -> dict[str, Any]:
    return get(rt, flow_id).doc


def start(rt: Runtime, flow_id: str, *, by: str = "", earlier_today: bool = False) -> Flow:
    """Start a draft: refused with the full list of what is missing.

    A trigger that scans (a date reached) looks from the start on; ``earlier_today``
    makes its first look begin at midnight in the flow's time zone, so that those
    whose moment came earlier today (see :func:`missed_today`) are enrolled too."""
    flow = get(rt, flow_id)
    if flow.status != "draft":
        raise FlowStateError(f"flow {flow_id} is {flow.status}; only a draft can be started")
    problems = not_ready(rt, flow)
    if problems:
        raise FlowNotReady(problems)
    if earlier_today and _scans(rt, flow):
        rt.redis.hset(keys.flow(flow_id), "scanned_to", _midnight(rt, flow))
    set_status(rt, flow_id, "running")
    rt.redis.hset(keys.flow(flow_id), mapping={"started_at": time.time(), "started_by": by})
    return get(rt, flow_id)


def missed_today(rt: Runtime, flow: Flow) -> int:
    """How many persons a scanning trigger found due earlier today (since midnight in
    the flow's time zone): a flow started after its time of day would not enrol them
    unless started with ``earlier_today``.  0 for other triggers."""
    if not _scans(rt, flow):
        return 0
    trigger = rt.registry.trigger(flow.doc["trigger"]["type"])
    settings = settings_of(trigger, flow.doc["trigger"].get("settings") or {})
    events = trigger.scan(settings, rt, _midnight(rt, flow), rt.clock.now())
    return len({event.person_id for event in events})


def _midnight(rt: Runtime, flow: Flow) -> float:
    tz = zone(None, flow.doc.get("timezone") or "UTC")
    today = dt.datetime.fromtimestamp(rt.clock.now(), tz).date()
    return dt.datetime.combine(today, dt.time(0, 0), tz).timestamp()


def not_ready(rt: Runtime, flow: Flow) -> list[str]:
    """Everything that keeps ``flow`` from starting, each once: its readiness and
    :func:`start_problems`."""
    return list(dict.fromkeys(readiness(flow, rt.registry) + [m for _, m in start_problems(rt, flow)]))


def start_problems(rt: Runtime, flow: Flow) -> list[tuple[str | None, str]]:
    """What, besides :func:`superflow.flow.readiness`, keeps a flow from starting: merge
    tags its trigger's event lacks and previews that fail (:func:`superflow.samples.content_problems`),
    forms it names that were deleted (:func:`superflow.form_uses.problems`) and link actions
    that cannot be done (:func:`superflow.link_actions.problems`)."""
    return samples.content_problems(rt, flow) + form_uses.problems(rt, flow) + link_actions.problems(rt, flow)


def set_status(rt: Runtime, flow_id: str, status: str) -> None:
    """Change the status and keep the event indexes in step with it."""
    flow = get(rt, flow_id)
    pipe = rt.redis.pipeline()
    pipe.hset(keys.flow(flow_id), mapping={"status": status, "updated_at": time.time()})
    if status in ("running", "paused"):
        _index(pipe, rt, flow)
    else:
        _unindex(pipe, rt, flow)
    pipe.execute()


def _event_types(rt: Runtime, flow: Flow) -> tuple[set[str], set[str]]:
    triggers: set[str] = set()
    if flow.doc["trigger"] is not None:
        triggers |= set(rt.registry.trigger(flow.doc["trigger"]["type"]).event_types)
    criteria: set[str] = set()
    for ref in flow.doc["success"]["criteria"]:
        criteria |= set(rt.registry.criterion(ref["type"]).event_types)
    return triggers, criteria


def _scans(rt: Runtime, flow: Flow) -> bool:
    return flow.doc["trigger"] is not None and rt.registry.trigger(flow.doc["trigger"]["type"]).scans


def _index(pipe: Any, rt: Runtime, flow: Flow) -> None:
    if _scans(rt, flow):
        pipe.sadd(keys.SCANNING, flow.id)
        pipe.hsetnx(keys.flow(flow.id), "scanned_to", rt.clock.now())
    triggers, criteria = _event_types(rt, flow)
    for t in triggers:
        pipe.sadd(keys.listening(t), flow.id)
    for t in criteria:
        pipe.sadd(keys.criteria(t), flow.id)


def _unindex(pipe: Any, rt: Runtime, flow: Flow) -> None:
    pipe.srem(keys.SCANNING, flow.id)
    triggers, criteria = _event_types(rt, flow)
    for t in triggers:
        pipe.srem(keys.listening(t), flow.id)
    for t in criteria:
        pipe.srem(keys.criteria(t), flow.id)
