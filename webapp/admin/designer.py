"""The flow designer: the page, and the JSON it talks to while a marketer builds a
flow — the catalogue of installed parts with their settings as JSON Schema, CRM
choices, live checks (errors, what is missing, warnings, unknown merge tags), save,
start, the live count of persons the filters match, previews and test sends.

The designer knows no particular step type: forms come from each part's schema,
previews and tests from :meth:`StepType.preview` and :meth:`StepType.send_test`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint
from flask import abort
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from marshmallow import ValidationError

from superflow import choices
from superflow import content
from superflow import flows
from superflow import form_uses
from superflow import link_actions
from superflow import merge
from superflow import samples
from superflow import sms_text
from superflow.channels import ChannelError
from superflow.components import Content
from superflow.conditions import Conditions
from superflow.flow import Flow
from superflow.flow import FlowInvalid
from superflow.flow import content_fields
from superflow.flow import merge_templates
from superflow.flow import parse_flow
from superflow.flow import readiness_by_step
from superflow.flow import setting_label
from superflow.flow import settings_of
from superflow.flow import warnings
from superflow.registry import UnknownComponent
from superflow.runtime import Runtime
from superflow.webapp.admin import describe
from superflow.webapp.admin.views import existing_flow
from superflow.webapp.api.jsonschema import component_entry
from superflow.webapp.auth import login_required
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = Blueprint("designer", __name__)

DESIGN = ("flow_admin",)
KINDS = ("triggers", "filters", "step_types", "success_criteria")
COUNT_LIMIT = 20_000
COUNT_CHUNK = 1000
PERSON_SUGGESTIONS = 8
BLANK = {
    "format_version": 1,
    "name": "Untitled flow",
    "description": "",
    "trigger": None,
    "filters": {"op": "and", "conditions": []},
    "steps": [],
    "success": {"criteria": [], "on_success": "stop", "move_to_flow": None},
    "reenrollment": "once",
    "exclusion_selection": None,
    "send_window": None,
    "timezone": "UTC",
    "status": "draft",
}


def _urls(flow_id: str | None) -> dict[str, Any]:
    """The addresses the designer's script talks to.  File uploads are not here: a
    setting that takes files names its own address in its schema (``x-upload``)."""
    return {
        "catalog": url_for("designer.catalog"),
        "choices": url_for("designer.choice_list", source="SOURCE").replace("SOURCE", "{source}"),
        "check": url_for("designer.check"),
        "save": url_for("designer.save"),
        "start": url_for("designer.start"),
        "count": url_for("designer.count"),
        "preview": url_for("designer.preview"),
        "merge_tags": url_for("designer.merge_tags"),
        "send_test": url_for("designer.send_test"),
        "persons": url_for("designer.persons"),
        "flow_page": url_for("views.flow", flow_id=flow_id) if flow_id else None,
        "resume": url_for("actions.run", flow_id=flow_id, action="resume") if flow_id else None,
        "design": url_for("designer.design", flow_id="ID").replace("ID", "{id}"),
    }


@bp.get("/flows/new/design")
@role_required(*DESIGN)
def new():
    boot = {
        "flow_id": None,
        "version": None,
        "status": "draft",
        "read_only": False,
        "read_only_reason": "",
        "versions": [],
        "doc": BLANK,
        "can_start": True,
        "urls": _urls(None),
    }
    return render_template("admin/designer.html", boot=boot, flow=None, designer_scripts=designer_scripts())


@bp.get("/flows/<flow_id>/design")
@login_required
def design(flow_id: str):
    rt = runtime()
    current = existing_flow(rt, flow_id)
    versions = rt.store.flow_versions(flow_id)
    asked = request.args.get("version", type=int)
    if asked is not None and asked not in versions:
        abort(404, description=f"Flow {flow_id} has no version {asked}.")
    shown = flows.get(rt, flow_id, asked) if asked is not None else current
    reason = ""
    if g.user["role"] != "flow_admin":
        reason = "You can look at this flow; only a flow administrator can change it."
    elif asked is not None and asked != current.version:
        reason = f"This is version {asked}, kept for reference. The current version is {current.version}."
    elif current.status == "running":
        reason = "This flow is running. Pause it to edit: participants keep their place."
    elif current.status == "ended":
        reason = "This flow has ended. Copy it to build on it."
    boot = {
        "flow_id": flow_id,
        "version": shown.version,
        "status": current.status,
        "read_only": bool(reason),
        "read_only_reason": reason,
        "versions": versions,
        "doc": shown.doc,
        "can_start": g.user["role"] == "flow_admin",
        "urls": _urls(flow_id),
    }
    return render_template(
        "admin/designer.html", boot=boot, flow=current, designer_scripts=designer_scripts()
    )


def designer_scripts() -> list[dict[str, Any]]:
    """Scripts plugins add to the designer (their setting widgets), in the order
    registered: ``src`` and whether it is an ES ``module``."""
    found: list[dict[str, Any]] = []

    def register(src: str, *, module: bool = False) -> None:
        found.append({"src": src, "module": bool(module)})

    runtime().registry.hook.superflow_register_designer_scripts(register=register)
    return found


def text_rules() -> dict[str, Any]:
    """The server's own text rules for the designer's script, so the browser has no
    copy of them: the merge-tag pattern that finds a tag's name (the chart's words,
    the underlined unknown tags) and how an SMS is counted."""
    return {
        "merge_tag": {"source": describe.MERGE_TAG.pattern, "flags": ""},
        "sms": sms_text.browser_rules(),
    }


@bp.get("/designer/catalog.json")
@login_required
def catalog():
    """Every installed trigger, filter, step type and success criterion with its
    settings as JSON Schema, the merge tags, the flows (for "move to flow") and the
    server's text rules (:func:`text_rules`)."""
    rt = runtime()
    found: dict[str, Any] = {}
    for kind in KINDS:
        found[kind] = [
            _palette_entry(rt, kind, name, item)
            for name, item in sorted(rt.registry.all(kind).items(), key=lambda kv: kv[1].label or kv[0])
        ]
    found["merge_tags"] = picker_tags(rt)
    found["text_rules"] = text_rules()
    found["flows"] = [
        choice | {"id": choice["value"], "name": choice["label"]} for choice in choices.choices(rt, "flows")
    ]
    return jsonify(found)


#: What each merge-tag root is called in the picker, in the picker's order.
ROOT_LABELS = {"person": "Person", "company": "Company", "our_contact": "Our contact", "flow": "Flow"}
#: Names merge tags may use that a marketer never picks: ids and the aliases of
#: SuperOffice's spelling (``firstname`` for ``first_name``), which mean the same.
NOT_PICKED = frozenset({"id", "timezone", *merge.PERSON_ALIASES})
BUILT_IN_LABELS = {
    "birth_date": "Birth date",
    "full_name": "Full name",
    "first_name": "First name",
    "last_name": "Last name",
    "mobile": "Mobile phone",
    "email": "Email address",
    "language": "Language",
    "name": "Name",
    "category": "Category",
    "business": "Business",
}


def picker_tags(rt: Runtime) -> list[dict[str, str]]:
    """The merge-tag picker's entries for the person, company, our contact and flow:
    each name once, in the CRM's words (an extra field's label), ids and aliases left out."""
    labels: dict[str, str] = {}
    try:
        for f in rt.crm.list_fields():
            root = "company" if f.entity == "company" else "person"
            labels[f"{root}.{f.key.removeprefix('company.')}"] = f.label
    except Exception:  # a CRM that does not answer leaves the built-in words
        labels = {}
    names = rt.merge_names()
    found = []
    for root, group in ROOT_LABELS.items():
        entries = [
            {
                "tag": f"{root}.{name}",
                "label": labels.get(f"{root}.{name}")
                or BUILT_IN_LABELS.get(name)
                or name.replace("_", " ").capitalize(),
                "group": group,
            }
            for name in names.get(root, ())
            if name not in NOT_PICKED and not name.startswith("_")
        ]
        found += sorted(entries, key=lambda e: e["label"].casefold())
    return found


def _event_picks(sample: dict[str, Any]) -> list[dict[str, str]]:
    """The picker's ``event.*`` entries; a list is offered as a loop over it."""
    found = []
    for entry in samples.picker_entries(sample):
        if entry.pop("loop", None):
            items = _lookup(sample, entry["tag"])
            first = items[0] if isinstance(items, list) and items else None
            inner = (
                next((k for k in first if isinstance(k, str) and k.isidentifier()), None)
                if isinstance(first, dict)
                else None
            )
            shown = "{{ item." + inner + " }}" if inner else "{{ item }}"
            entry["insert"] = "{% for item in " + entry["tag"] + " %}" + shown + " {% endfor %}"
        found.append(entry)
    return found


def _lookup(data: dict[str, Any], tag: str) -> Any:
    node: Any = data
    for part in tag.split(".")[1:]:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _sample(rt: Runtime, body: dict[str, Any]) -> dict[str, Any]:
    """The sample event for the flow being designed (``trigger``, ``flow_id`` in the body)."""
    trigger = body.get("trigger")
    flow_id = body.get("flow_id")
    return samples.sample_event(
        rt.redis,
        rt.registry,
        trigger if isinstance(trigger, dict) else None,
        str(flow_id) if flow_id else None,
    )


@bp.post("/designer/merge-tags")
@login_required
def merge_tags():
    """The merge-tag picker's entries for a flow with the given ``trigger``: the
    catalogue's, and the ``event.*`` data its trigger's event carries (the last event
    received, else the trigger's sample)."""
    rt = runtime()
    return jsonify({"merge_tags": picker_tags(rt) + _event_picks(_sample(rt, _body()))})


def _palette_entry(rt: Runtime, kind: str, name: str, item: Any) -> dict[str, Any]:
    """The API's entry for a part (``schema`` being its settings), with what the
    designer also needs to place it."""
    entry = component_entry(rt.registry, kind, name, item)
    entry["schema"] = entry.pop("settings")
    return entry | {
        "category": entry["category"] or "Other",
        "sends": getattr(item, "sends", None),
        "content": list(content_fields(item)) if kind == "step_types" else [],
        "branching": bool(getattr(item, "branching", False)),
        "manual_enrolment": bool(getattr(item, "allows_manual_enrolment", False)),
        "needs_participant": bool(getattr(item, "needs_participant", False)),
        "link_action": bool(getattr(item, "link_action", False)),
    }


@bp.get("/designer/choices/<source>")
@login_required
def choice_list(source: str):
    try:
        return jsonify({"choices": choices.choices(runtime(), source)})
    except choices.UnknownSource as exc:
        return _errors(404, [{"field": "source", "message": str(exc)}])
    except Exception as exc:  # any CRM backend's failure, named
        return _errors(502, [{"field": "(crm)", "message": f"the CRM did not answer: {exc}"}])


def _errors(status: int, errors: list[dict[str, str]], **extra: Any) -> Any:
    response = jsonify({"errors": errors, **extra})
    response.status_code = status
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="Send a JSON object.")
    return body


PATH_PART = re.compile(r"(steps|branches|everyone_else)\[(\d+)\]")


def step_at(doc: dict[str, Any], path: str) -> str | None:
    """The id of the step an error path such as ``steps[3].branches[0].steps[1].settings.subject``
    points into (``None`` for the trigger, filters or success criteria)."""
    node: Any = doc
    found = None
    for name, index in PATH_PART.findall(path.split(".settings", 1)[0]):
        try:
            node = node[name][int(index)]
        except (KeyError, IndexError, TypeError):
            break
        if name != "branches":
            found = node.get("id")
    return found


def _structured(pairs: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
    return [{"step_id": step_id, "message": message} for step_id, message in pairs]


def review(rt: Runtime, doc: Any, flow_id: str | None) -> dict[str, Any]:
    """Errors (the flow cannot be saved), problems (it cannot start yet), warnings
    (it may not work as meant) and unknown merge tags, for the designer."""
    try:
        flow = parse_flow(doc, rt.registry, flow_id=flow_id or "", fields=rt.crm.list_fields())
    except FlowInvalid as exc:
        tags = [
            {
                "step_id": step_at(doc, e["field"]) if isinstance(doc, dict) else None,
                "field": e["field"].rsplit(".settings.", 1)[-1] if ".settings." in e["field"] else e["field"],
                "path": e["field"],
                "tag": m.group(1).strip(),
            }
            for e in exc.errors
            if (m := re.search(r"unknown merge tag \{\{(.+?)\}\}", e["message"]))
        ]
        return {"errors": exc.errors, "problems": [], "warnings": [], "unknown_merge_tags": tags}
    return {
        "errors": [],
        "problems": _structured(_start_problems(rt, flow)),
        "warnings": _structured(
            warnings(flow, rt.registry, _other_flows(rt))
            + link_actions.duplicates(flow, rt.registry, form_uses.trigger_form_actions(rt, flow))
        ),
        "unknown_merge_tags": _unknown_tags(rt, flow),
    }


def _start_problems(rt: Runtime, flow: Flow) -> list[tuple[str | None, str]]:
    """What keeps the flow from starting, each once: :func:`readiness_by_step` and
    :func:`superflow.flows.start_problems` (merge tags and previews with the sample event)."""
    return list(dict.fromkeys(readiness_by_step(flow, rt.registry) + flows.start_problems(rt, flow)))


def _unknown_tags(rt: Runtime, flow: Flow) -> list[dict[str, Any]]:
    """The merge tags of the flow's steps that no person, company or flow has, or that
    the trigger's sample event lacks, by step and setting (the designer underlines them)."""
    event = samples.sample_event(rt.redis, rt.registry, flow.doc.get("trigger"), flow.id or None)
    names = rt.merge_names()
    paths = dict(_step_paths(flow.doc.get("steps") or [], "steps"))
    found = []
    for step_id in sorted(flow.steps, key=flow.number.get):
        try:
            step_type = rt.registry.step_type(flow.steps[step_id]["type"])
        except UnknownComponent:
            continue
        for name, template in merge_templates(step_type, flow.steps[step_id].get("settings") or {}):
            for problem in merge.check(template, names, event=event):
                if m := re.search(r"unknown merge tag \{\{(.+?)\}\}", problem):
                    found.append(
                        {
                            "step_id": step_id,
                            "field": name,
                            "path": f"{paths.get(step_id, 'steps')}.settings.{name}",
                            "tag": m.group(1).strip(),
                        }
                    )
    return found


def _step_paths(steps: list[dict[str, Any]], path: str) -> list[tuple[str, str]]:
    """Each step's id with its path in the document (``steps[1].branches[0].steps[0]``)."""
    found: list[tuple[str, str]] = []
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        found.append((str(step.get("id")), here))
        for b, branch in enumerate(step.get("branches") or []):
            found += _step_paths(branch.get("steps") or [], f"{here}.branches[{b}].steps")
        found += _step_paths(step.get("everyone_else") or [], f"{here}.everyone_else")
    return found


def _other_flows(rt: Runtime) -> list[Flow]:
    found = []
    for row in flows.list_flows(rt):
        if row["status"] in ("running", "paused"):
            try:
                found.append(flows.get(rt, row["id"]))
            except (flows.FlowNotFound, FlowInvalid, UnknownComponent):
                continue
    return found


@bp.post("/designer/check")
@login_required
def check():
    body = _body()
    return jsonify(review(runtime(), body.get("doc"), body.get("flow_id")))


@bp.post("/designer/save")
@role_required(*DESIGN)
def save():
    """Save always works for an unfinished flow (what is missing is a "problem");
    it is refused, with nothing stored, only for errors in the document."""
    rt = runtime()
    body = _body()
    flow_id, doc = body.get("flow_id"), body.get("doc")
    try:
        if flow_id:
            existing_flow(rt, str(flow_id))
            saved = flows.update(rt, str(flow_id), doc, by=g.user["username"])
        else:
            saved = flows.create(rt, doc, by=g.user["username"])
    except FlowInvalid as exc:
        return _errors(
            422, exc.errors, **{k: v for k, v in review(rt, doc, flow_id).items() if k != "errors"}
        )
    except flows.FlowStateError as exc:
        return _errors(409, [{"field": "status", "message": str(exc)}])
    checked = review(rt, saved.doc, saved.id)
    return jsonify(
        {
            "flow_id": saved.id,
            "version": saved.version,
            "problems": checked["problems"],
            "warnings": checked["warnings"],
            "url": url_for("designer.design", flow_id=saved.id),
        }
    )


@bp.post("/designer/start")
@role_required(*DESIGN)
def start():
    rt = runtime()
    body = _body()
    flow_id = str(body.get("flow_id") or "")
    current = existing_flow(rt, flow_id)
    earlier_today = body.get("earlier_today")
    if earlier_today is None and current.status == "draft":
        missed = flows.missed_today(rt, current)
        if missed:
            # Asked before starting: who was due earlier today is enrolled only if the marketer says so.
            who = f"{missed} person was" if missed == 1 else f"{missed} persons were"
            question = f"{who} due earlier today, before this start. Enrol them too?"
            response = jsonify({"question": {"field": "earlier_today", "text": question, "count": missed}})
            response.status_code = 409
            return response
    try:
        flows.start(rt, flow_id, by=g.user["username"], earlier_today=bool(earlier_today))
    except flows.FlowNotReady:
        response = jsonify({"problems": _structured(_start_problems(rt, current))})
        response.status_code = 409
        return response
    except flows.FlowStateError as exc:
        return _errors(409, [{"field": "status", "message": str(exc)}])
    return jsonify({"status": "running", "url": url_for("views.flow", flow_id=flow_id)})


@bp.post("/designer/count")
@login_required
def count():
    """How many persons in the CRM match the filters now (the first
    :data:`COUNT_LIMIT` persons are looked at; ``exact`` says whether that was all)."""
    rt = runtime()
    group = _body().get("filters") or {"op": "and", "conditions": []}
    try:
        doc = parse_flow(dict(BLANK, filters=group), rt.registry).doc
    except FlowInvalid as exc:
        return _errors(422, exc.errors)
    group = doc["filters"]
    conditions = Conditions(rt.registry, rt)
    matched = seen = 0
    after: str | None = None
    try:
        while seen < COUNT_LIMIT:
            ids = rt.crm.person_ids(after, COUNT_CHUNK)
            if not ids:
                break
            for person in rt.crm.get_persons(ids).values():
                if conditions.filters_pass(group, person, None):
                    matched += 1
            seen += len(ids)
            after = ids[-1]
    except NotImplementedError:
        return jsonify({"count": None, "total": None, "exact": False, "message": "this CRM cannot count"})
    exact = seen < COUNT_LIMIT or not rt.crm.person_ids(after, 1)
    return jsonify({"count": matched, "total": seen, "exact": exact})


def _step_part(rt: Runtime, body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    step = body.get("step") or {}
    try:
        step_type = rt.registry.step_type(str(step.get("type", "")))
    except UnknownComponent as exc:
        raise _Refused("step.type", str(exc)) from None
    try:
        settings = settings_of(step_type, step.get("settings") or {})
    except ValidationError as exc:
        problems = content.settings_problems(exc.messages, component=step_type)
        raise _Refused("step.settings", "; ".join(problems)) from None
    return step_type, settings


class _Refused(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _merge_hazards(
    rt: Runtime, step_type: Any, settings: dict[str, Any], event: dict[str, Any] | None = None
) -> list[dict[str, str]]:
    """Merge tags that fail, or go over the render budget, whoever the person is
    (:func:`superflow.merge.hazards`): refused before anything is filled in or sent,
    naming the setting."""
    return [
        {
            "field": f"step.settings.{name}",
            "message": f"{setting_label(step_type, name)}: {problem}",
        }
        for name, template in merge_templates(step_type, settings)
        for problem in merge.hazards(template, rt.merge_names(), event=event)
    ]


def _person_scope(rt: Runtime, person_id: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The person's merge scope with ``event`` the sample event of the flow."""
    try:
        return content.person_scope(rt, person_id, event=event)
    except content.UnknownPerson as exc:
        raise _Refused("person_id", str(exc).strip("'\"")) from None


@bp.post("/designer/preview")
@login_required
def preview():
    """What one step (as it stands in the designer, saved or not) would send to the person.
    Every signed-in role may preview (the role table's Flow content tab); merge tags
    that fail for everyone or go over the render budget get a 422 naming the setting.
    ``event`` is the flow's sample event (``trigger`` and ``flow_id`` in the body say
    which flow: :func:`superflow.samples.sample_event`)."""
    rt = runtime()
    body = _body()
    event = _sample(rt, body)
    try:
        step_type, settings = _step_part(rt, body)
        scope = _person_scope(rt, str(body.get("person_id") or ""), event)
    except _Refused as exc:
        return _errors(422, [{"field": exc.field, "message": str(exc)}])
    if hazards := _merge_hazards(rt, step_type, settings, event):
        return _errors(422, hazards)
    try:
        found: list[Content] = list(step_type.preview(settings, scope, rt))
    except Exception as exc:  # a plugin's bug is shown, not a 500
        return jsonify({"content": [], "problems": [f"the preview failed: {type(exc).__name__}: {exc}"]})
    return jsonify({"content": [vars(c) for c in found], "problems": []})


@bp.post("/designer/send-test")
@role_required("flow_admin", "content_editor")
def send_test():
    rt = runtime()
    body = _body()
    to = str(body.get("to") or "").strip()
    if not to:
        return _errors(422, [{"field": "to", "message": "say where the test should go"}])
    event = _sample(rt, body)
    try:
        step_type, settings = _step_part(rt, body)
        scope = _person_scope(rt, str(body.get("person_id") or ""), event)
        scope["event"] = dict(event)
        if not content.can_send_test(step_type):
            raise _Refused("step.type", f"{step_type.label} steps cannot send a test")
        if hazards := _merge_hazards(rt, step_type, settings, event):
            return _errors(422, hazards)
        message = step_type.send_test(settings, scope, rt, to)
    except _Refused as exc:
        return _errors(422, [{"field": exc.field, "message": str(exc)}])
    except (ValueError, ChannelError) as exc:
        return _errors(422, [{"field": "to", "message": str(exc)}])
    return jsonify({"message": message})


@bp.get("/designer/persons")
@login_required
def persons():
    """Persons to preview with: by email address or id, or a few suggestions."""
    rt = runtime()
    q = request.args.get("q", "").strip()
    try:
        if q:
            found = [p for p in [rt.crm.find_person(q)] if p]
        else:
            try:
                ids = rt.crm.person_ids(None, PERSON_SUGGESTIONS)
            except NotImplementedError:
                ids = []
            found = list(rt.crm.get_persons(ids).values())
    except Exception as exc:  # any CRM backend's failure, named
        return _errors(502, [{"field": "(crm)", "message": f"the CRM did not answer: {exc}"}])
    return jsonify(
        {
            "persons": [
                {"id": str(p["id"]), "name": p.get("full_name") or "", "email": p.get("email") or ""}
                for p in found
            ]
        }
    )
