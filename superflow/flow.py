"""The flow: its document format, validation, readiness and compiled form.

A flow document is versioned JSON (``format_version`` 1).  Saving checks the
structure, the types and every settings value that is given; it accepts settings
that are still missing.  Starting asks :func:`readiness`, which lists everything
missing, each message naming the step and field.
"""

from __future__ import annotations

import contextlib
import json
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from marshmallow import EXCLUDE
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from superflow import merge
from superflow.registry import Registry
from superflow.registry import UnknownComponent

FORMAT_VERSION = 1
STATUSES = ("draft", "running", "paused", "ended")
REENROLMENT = ("once", "after_end", "restart")
ON_SUCCESS = ("stop", "continue", "move_to")


class FlowInvalid(Exception):
    """A flow document that cannot be saved; ``errors`` lists ``{field, message}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


class FlowNotReady(Exception):
    """A flow that cannot start yet; ``problems`` lists what is missing."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the flow cannot start: " + "; ".join(problems))


class Errors(list):
    """``{field, message}`` problems found while parsing, and the merge-tag names
    known to this installation (``None``: not known here)."""

    def __init__(self, merge_names: dict[str, frozenset[str]] | None = None) -> None:
        super().__init__()
        self.merge_names = merge_names


def merge_tag_fields(component: Any) -> dict[str, Any]:
    """The settings fields marked ``metadata={"merge_tags": True}``, in schema order:
    the texts of a component (what content editors may change)."""
    if component.settings_schema is None:
        return {}
    return {
        name: declared
        for name, declared in component.settings_schema().fields.items()
        if declared.metadata.get("merge_tags")
    }


def content_fields(component: Any) -> dict[str, Any]:
    """A step's content: its texts (:func:`merge_tag_fields`) and the settings marked
    ``metadata={"content": True}`` (an email's attachments).  Either role may change
    them, also while the flow runs (:func:`superflow.flows.update_content`)."""
    if component.settings_schema is None:
        return {}
    return {
        name: declared
        for name, declared in component.settings_schema().fields.items()
        if declared.metadata.get("merge_tags") or declared.metadata.get("content")
    }


def merge_templates(component: Any, settings: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings whose schema field is marked ``metadata={"merge_tags": True}``, and
    the texts the component makes of its other settings
    (:meth:`~superflow.components.Component.merge_texts`)."""
    declared = merge_tag_fields(component)
    found = [(name, value) for name, value in settings.items() if isinstance(value, str) and name in declared]
    more = getattr(component, "merge_texts", None)
    return found + list(more(settings)) if more is not None else found


class _Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class ComponentRefSchema(_Strict):
    type = fields.String(required=True, validate=validate.Length(min=1))
    settings = fields.Dict(keys=fields.String(), load_default=dict)


class FilterGroupSchema(_Strict):
    op = fields.String(load_default="and", validate=validate.OneOf(("and", "or")))
    conditions = fields.List(fields.Raw(), load_default=list)

    @validates_schema
    def _check_conditions(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[Any, Any] = {}
        for i, cond in enumerate(data.get("conditions", [])):
            schema: Schema = (
                FilterGroupSchema() if isinstance(cond, dict) and "op" in cond else ComponentRefSchema()
            )
            try:
                schema.load(cond)
            except ValidationError as exc:
                errors[i] = exc.messages
        if errors:
            raise ValidationError({"conditions": errors})


class BranchSchema(_Strict):
    name = fields.String(load_default="")
    condition = fields.Nested(ComponentRefSchema, allow_none=True, load_default=None)
    steps = fields.List(fields.Nested(lambda: StepSchema()), load_default=list)


class StepSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,40}$"))
    type = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(load_default="")
    settings = fields.Dict(keys=fields.String(), load_default=dict)
    branches = fields.List(fields.Nested(BranchSchema))
    everyone_else = fields.List(fields.Nested(lambda: StepSchema()))


class SuccessSchema(_Strict):
    criteria = fields.List(fields.Nested(ComponentRefSchema), load_default=list)
    on_success = fields.String(load_default="stop", validate=validate.OneOf(ON_SUCCESS))
    move_to_flow = fields.String(load_default=None, allow_none=True)
    days_after = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 365),
        metadata={"help": "Days after the last step in which success still counts (0: until the last step)"},
    )


class SendWindowSchema(_Strict):
    days = fields.List(
        fields.Integer(validate=validate.Range(0, 6)),
        load_default=lambda: [0, 1, 2, 3, 4],
        metadata={"help": "0 = Monday … 6 = Sunday"},
    )
    start = fields.String(load_default="08:00", validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$"))
    end = fields.String(load_default="17:00", validate=validate.Regexp(r"^([01]\d|2[0-4]):[0-5]\d$"))


def _valid_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}") from None


class FlowSchema(_Strict):
    format_version = fields.Integer(load_default=FORMAT_VERSION, validate=validate.Equal(FORMAT_VERSION))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    trigger = fields.Nested(ComponentRefSchema, allow_none=True, load_default=None)
    filters = fields.Nested(FilterGroupSchema, load_default=lambda: {"op": "and", "conditions": []})
    steps = fields.List(fields.Nested(StepSchema), load_default=list)
    success = fields.Nested(SuccessSchema, load_default=lambda: SuccessSchema().load({}))
    reenrollment = fields.String(load_default="once", validate=validate.OneOf(REENROLMENT))
    exclusion_selection = fields.String(load_default=None, allow_none=True)
    send_window = fields.Nested(SendWindowSchema, load_default=None, allow_none=True)
    timezone = fields.String(load_default="UTC", validate=_valid_zone)
    status = fields.String(load_default="draft", validate=validate.OneOf(STATUSES))


@dataclass
class Flow:
    """A validated flow document, compiled for the engine: steps by id and where
    each step leads."""

    doc: dict[str, Any]
    id: str = ""
    version: int = 0
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_of: dict[str, str | None] = field(default_factory=dict)
    branch_first: dict[str, list[str | None]] = field(default_factory=dict)
    number: dict[str, int] = field(default_factory=dict)
    first_step: str | None = None

    @property
    def name(self) -> str:
        return self.doc["name"]

    @property
    def status(self) -> str:
        return self.doc["status"]

    def step_label(self, step_id: str, registry: Registry | None = None) -> str:
        step = self.steps[step_id]
        label = step.get("name") or step["type"]
        if not step.get("name") and registry is not None:
            with contextlib.suppress(UnknownComponent):
                label = registry.step_type(step["type"]).label
        return f"Step {self.number[step_id]} '{label}'"

    def to_json(self) -> str:
        return json.dumps(self.doc, sort_keys=True, separators=(",", ":"))


def parse_flow(
    raw: Any, registry: Registry, *, flow_id: str = "", version: int = 0, fields: Iterable[Any] | None = None
) -> Flow:
    """Validate a flow document for saving and compile it.

    Raises :class:`FlowInvalid` naming every field that is wrong.  Missing required
    settings are allowed here; :func:`readiness` reports them.  With ``fields`` (the
    CRM's :class:`~superflow.crm.FieldInfo` list) merge tags are checked against what
    persons really have; without, only their syntax and roots are.
    """
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FlowInvalid([{"field": "(document)", "message": f"not valid JSON: {exc}"}]) from None
    if not isinstance(raw, dict):
        raise FlowInvalid([{"field": "(document)", "message": "a flow must be a JSON object"}])
    errors = Errors(merge_names=None if fields is None else merge.known_names(fields))
    try:
        doc = FlowSchema().load(raw)
    except ValidationError as exc:
        errors.extend(_flatten(exc.messages))
        try:
            doc = FlowSchema(unknown=EXCLUDE).load(raw)
        except ValidationError:
            raise FlowInvalid(list(errors)) from None
    doc = json.loads(json.dumps(doc))
    flow = Flow(doc=doc, id=flow_id, version=version)
    _check_components(doc, registry, errors)
    _compile(flow, doc["steps"], None, "steps", registry, errors, [0])
    if errors:
        raise FlowInvalid(list(errors))
    return flow


def readiness(flow: Flow, registry: Registry) -> list[str]:
    """Everything that must be filled in or fixed before ``flow`` can start."""
    return [message for _, message in readiness_by_step(flow, registry)]


def readiness_by_step(flow: Flow, registry: Registry) -> list[tuple[str | None, str]]:
    """:func:`readiness` with the id of the step each problem belongs to (``None``:
    the trigger, filters or success criteria), for the designer to mark steps."""
    problems: list[tuple[str | None, str]] = []

    def check(step_id: str | None, where: str, component: Any, settings: dict[str, Any]) -> None:
        problems.extend((step_id, m) for m in _missing(where, component, settings, flow))

    doc = flow.doc
    if doc["trigger"] is None:
        problems.append((None, "Trigger: choose what starts the flow"))
    else:
        trigger = registry.trigger(doc["trigger"]["type"])
        check(None, f"Trigger '{trigger.label}'", trigger, doc["trigger"]["settings"])
    for cond in _conditions(doc["filters"]):
        filt = registry.filter(cond["type"])
        check(None, f"Filter '{filt.label}'", filt, cond["settings"])
    if not flow.steps:
        problems.append((None, "Steps: the flow has no steps"))
    for step_id in sorted(flow.steps, key=flow.number.get):
        step = flow.steps[step_id]
        where = flow.step_label(step_id, registry)
        check(step_id, where, registry.step_type(step["type"]), step["settings"])
        for i, branch in enumerate(step.get("branches") or []):
            if branch.get("condition") is None:
                problems.append((step_id, f"{where}: branch {i + 1} needs a condition"))
                continue
            filt = registry.filter(branch["condition"]["type"])
            check(step_id, f"{where} branch {i + 1}", filt, branch["condition"]["settings"])
    for crit in doc["success"]["criteria"]:
        criterion = registry.criterion(crit["type"])
        check(None, f"Success criterion '{criterion.label}'", criterion, crit["settings"])
    if doc["success"]["on_success"] == "move_to" and not doc["success"]["move_to_flow"]:
        problems.append((None, "Success: choose the flow to move participants to"))
    return problems


def warnings(flow: Flow, registry: Registry, others: Iterable[Flow] = ()) -> list[tuple[str | None, str]]:
    """What may not work as the marketer means it, though the flow can start: each
    component's own :meth:`~superflow.components.Component.warnings`, a split branch
    that can never be reached, and another running flow that starts on the same
    condition and also sends (people would get both)."""
    found: list[tuple[str | None, str]] = []

    def ask(step_id: str | None, where: str, kind: str, ref: dict[str, Any] | None) -> None:
        if not ref:
            return
        try:
            component = registry.get(kind, ref["type"])
        except UnknownComponent:
            return
        settings = ref.get("settings") or {}
        with contextlib.suppress(ValidationError):
            settings = settings_of(component, settings)
        found.extend((step_id, f"{where}: {m}") for m in component.warnings(settings, flow))

    doc = flow.doc
    ask(None, "Trigger", "triggers", doc["trigger"])
    for cond in _conditions(doc["filters"]):
        ask(None, "Filter", "filters", cond)
    for step_id in sorted(flow.steps, key=flow.number.get):
        step = flow.steps[step_id]
        where = flow.step_label(step_id, registry)
        ask(step_id, where, "step_types", step)
        seen: dict[str, int] = {}
        for i, branch in enumerate(step.get("branches") or []):
            condition = branch.get("condition")
            ask(step_id, f"{where} branch {i + 1}", "filters", condition)
            if condition is None:
                continue
            key = json.dumps(condition, sort_keys=True)
            if key in seen:
                found.append(
                    (
                        step_id,
                        f"{where}: branch {i + 1} can never be reached:"
                        f" branch {seen[key] + 1} has the same condition and is checked first",
                    )
                )
            seen.setdefault(key, i)
    for crit in doc["success"]["criteria"]:
        ask(None, "Success criterion", "success_criteria", crit)
    found += _goal_after_the_end(flow, registry)
    found += _same_start(flow, registry, others)
    return found


def last_steps(flow: Flow) -> list[str]:
    """The steps after which participants leave the flow (not a split: its branches go on)."""
    return [
        sid
        for sid, following in flow.next_of.items()
        if following is None and "branches" not in flow.steps[sid]
    ]


def _goal_after_the_end(flow: Flow, registry: Registry) -> list[tuple[str | None, str]]:
    """A goal checked only while people are in the flow, when the flow ends on a step
    that sends: the click or reply it asks for comes after they have left."""
    success = flow.doc["success"]
    if not success["criteria"] or success.get("days_after"):
        return []
    found: list[tuple[str | None, str]] = []
    for step_id in last_steps(flow):
        with contextlib.suppress(UnknownComponent):
            if registry.step_type(flow.steps[step_id]["type"]).sends:
                label = flow.step_label(step_id, registry)
                found.append(
                    (
                        step_id,
                        f"Success criteria: people leave the flow right after {label},"
                        " so what they do after receiving it (a click, a reply, a visit) is not counted as"
                        " success. Count success for some days after the last step, or add a wait after it.",
                    )
                )
    return found


def _sends(flow: Flow, registry: Registry) -> bool:
    for step in flow.steps.values():
        with contextlib.suppress(UnknownComponent):
            if registry.step_type(step["type"]).sends:
                return True
    return False


def _same_start(flow: Flow, registry: Registry, others: Iterable[Flow]) -> list[tuple[str | None, str]]:
    trigger = flow.doc["trigger"]
    if trigger is None or not _sends(flow, registry):
        return []
    mine = json.dumps(trigger, sort_keys=True)
    return [
        (
            None,
            f"Trigger: flow '{other.name}' ({other.status}) starts on the same condition and also sends"
            " messages: people who match will get both",
        )
        for other in others
        if other.id != flow.id
        and other.status in ("running", "paused")
        and json.dumps(other.doc["trigger"], sort_keys=True) == mine
        and _sends(other, registry)
    ]


def settings_of(component: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings of a ready flow loaded through the component's schema, with
    defaults filled in and values converted (dates, numbers)."""
    if component.settings_schema is None:
        return dict(settings)
    return component.settings_schema(unknown=RAISE).load(settings)


def check_settings(component: Any, settings: dict[str, Any]) -> None:
    """Check the settings that are given (for saving): wrong types and unknown keys
    raise ``ValidationError``; missing required ones do not."""
    if component.settings_schema is not None:
        component.settings_schema(unknown=RAISE).load(settings, partial=True)


def _missing(where: str, component: Any, settings: dict[str, Any], flow: Flow) -> list[str]:
    problems = []
    if component.settings_schema is not None:
        try:
            component.settings_schema(unknown=RAISE).load(settings)
        except ValidationError as exc:
            for err in _flatten(exc.messages):
                problems.append(f"{where}: {_humane(setting_label(component, err['field']), err['message'])}")
    if not problems:
        problems += [f"{where}: {labelled(component, msg)}" for msg in component.readiness(settings, flow)]
    for name, template in merge_templates(component, settings):
        label = setting_label(component, name)
        problems += [f"{where}: {label}: {problem}" for problem in merge.hazards(template)]
        unknown = [p for p in merge.check(template) if p.startswith(merge.UNKNOWN_TAG)]
        problems += [f"{where}: {label}: {problem}" for problem in unknown]
    return problems


def _humane(label: str, message: str) -> str:
    if message == "Missing data for required field.":
        return f"{label} is required"
    return f"{label}: {message}"


FIELD_AT_START = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?=[\s:]|$)"
)


SNAKE_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def setting_label(component: Any, path: str) -> str:
    """The marketer's name of the setting a marshmallow error path names: the label
    the component's schema declares for it (``from_address`` → "From address",
    ``html`` → "Email body"), then the label of each nested part after it
    ("Attachments 1, name").  A setting without a label gets its name in words."""
    parts = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", path)
    if not parts:
        return path
    declared = component.settings_schema().fields if component.settings_schema is not None else {}
    words: list[str] = []
    schema_fields: Any = declared
    for part in parts:
        if part.startswith("["):
            if words:
                words[-1] += f" {int(part[1:-1]) + 1}"
            continue
        found = schema_fields.get(part) if isinstance(schema_fields, dict) else None
        label = (found.metadata.get("label") if found is not None else None) or part.replace("_", " ")
        words.append(label if words else label[:1].upper() + label[1:])
        inner = getattr(getattr(found, "inner", found), "schema", None)
        schema_fields = inner.fields if inner is not None else None
    return ", ".join(words)


def labelled(component: Any, message: str) -> str:
    """A component's own message with the settings it names given by their labels:
    the setting it starts with (``time_zone is required: ...`` → "Time zone is
    required: ...") and any other setting name with an underscore in it
    (``timeout_step``), so the marketer reads the form's words."""
    if component.settings_schema is None:
        return message
    declared = component.settings_schema().fields
    found = FIELD_AT_START.match(message)
    if found is not None and found.group(1) in declared:
        message = setting_label(component, found.group(0)) + message[found.end() :]
        start = len(setting_label(component, found.group(0)))
    else:
        start = 0

    def named(m: re.Match[str]) -> str:
        quoted = m.start() > 0 and m.string[m.start() - 1] in "'\"{"
        return m.group(0) if quoted or m.group(0) not in declared else setting_label(component, m.group(0))

    return message[:start] + SNAKE_NAME.sub(named, message[start:])


def _check_components(doc: dict[str, Any], registry: Registry, errors: Errors) -> None:
    if doc["trigger"] is not None:
        _check_settings("trigger", "triggers", doc["trigger"], registry, errors)
    for path, cond in _conditions_with_paths(doc["filters"], "filters"):
        _check_settings(path, "filters", cond, registry, errors)
    for i, crit in enumerate(doc["success"]["criteria"]):
        _check_settings(f"success.criteria[{i}]", "success_criteria", crit, registry, errors)


def _check_settings(path: str, kind: str, ref: dict[str, Any], registry: Registry, errors: Errors) -> Any:
    try:
        component = registry.get(kind, ref["type"])
    except UnknownComponent as exc:
        errors.append({"field": f"{path}.type", "message": str(exc)})
        return None
    try:
        check_settings(component, ref["settings"])
    except ValidationError as exc:
        for err in _flatten(exc.messages):
            errors.append({"field": f"{path}.settings.{err['field']}", "message": err["message"]})
    for name, template in merge_templates(component, ref["settings"]):
        for problem in merge.check(template, errors.merge_names):
            if not problem.startswith(merge.UNKNOWN_TAG):  # a problem for start, not an error: drafts save
                errors.append({"field": f"{path}.settings.{name}", "message": problem})
    return component


def _compile(
    flow: Flow,
    steps: list[dict[str, Any]],
    after: str | None,
    path: str,
    registry: Registry,
    errors: Errors,
    counter: list[int],
) -> str | None:
    """Number the steps, index them by id and work out where each leads."""
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        counter[0] += 1
        if step["id"] in flow.steps:
            errors.append({"field": f"{here}.id", "message": f"step id {step['id']!r} is used twice"})
            continue
        flow.steps[step["id"]] = step
        flow.number[step["id"]] = counter[0]
        step_type = _check_settings(here, "step_types", step, registry, errors)
        if step_type is not None:
            _check_branches(step, step_type, here, errors)
        following = steps[i + 1]["id"] if i + 1 < len(steps) else after
        flow.next_of[step["id"]] = following
        if step.get("branches") is not None:
            firsts: list[str | None] = []
            for b, branch in enumerate(step["branches"]):
                bpath = f"{here}.branches[{b}]"
                if branch["condition"] is not None:
                    _check_settings(f"{bpath}.condition", "filters", branch["condition"], registry, errors)
                firsts.append(
                    _compile(flow, branch["steps"], following, f"{bpath}.steps", registry, errors, counter)
                )
            rest = step.get("everyone_else") or []
            firsts.append(_compile(flow, rest, following, f"{here}.everyone_else", registry, errors, counter))
            flow.branch_first[step["id"]] = firsts
    if path == "steps":
        flow.first_step = steps[0]["id"] if steps else None
    return steps[0]["id"] if steps else after


def _check_branches(step: dict[str, Any], step_type: Any, here: str, errors: list[dict[str, str]]) -> None:
    if step_type.branching:
        if not step.get("branches"):
            errors.append(
                {
                    "field": f"{here}.branches",
                    "message": f"a {step_type.label} step needs at least one branch",
                }
            )
    elif step.get("branches") is not None or step.get("everyone_else") is not None:
        errors.append({"field": f"{here}.branches", "message": f"a {step_type.label} step has no branches"})


def _conditions(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [cond for _, cond in _conditions_with_paths(group, "filters")]


def _conditions_with_paths(group: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for i, cond in enumerate(group.get("conditions", [])):
        if "op" in cond:
            found += _conditions_with_paths(cond, f"{path}.conditions[{i}]")
        else:
            found.append((f"{path}.conditions[{i}]", cond))
    return found


def _flatten(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested error dict as a flat list of ``{field, message}``."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "(document)"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                out += [{"field": name, "message": m} for m in _as_list(value)]
            else:
                out += _flatten(value, name)
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out += [{"field": prefix or "(document)", "message": m} for m in messages]
        else:
            for m in messages:
                out += _flatten(m, prefix)
    else:
        out.append({"field": prefix or "(document)", "message": str(messages)})
    return out


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
