"""Which hosted forms a flow names, and what that means for the flow and the form.

A setting names a form when its schema field says ``choices_from: "forms"`` (the
"form submitted" trigger and criterion do); the trigger, the filters, the conditions
of split branches and the success criteria are looked at, so the core needs to know
no particular component.  The Forms screen lists each form's flows and refuses to
delete a form a flow still needs; a flow that names a deleted form cannot start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from superflow import forms
from superflow.registry import UnknownComponent

if TYPE_CHECKING:
    from superflow.flow import Flow
    from superflow.registry import Registry
    from superflow.runtime import Runtime

SOURCE = "forms"


@dataclass(frozen=True)
class FormUse:
    """One place of a flow that names a form: ``where`` in words ("Trigger 'Form
    submitted'"), the step it belongs to (``None``: trigger, filters, criteria)."""

    form_id: str
    where: str
    step_id: str | None = None


def _named(registry: Registry, kind: str, ref: dict[str, Any] | None) -> tuple[str, list[str]]:
    """The component's label and the form ids its settings name."""
    if not ref:
        return "", []
    try:
        component = registry.get(kind, ref["type"])
    except UnknownComponent:
        return "", []
    schema = component.settings_schema
    if schema is None:
        return component.label, []
    settings = ref.get("settings") or {}
    ids = []
    for name, declared in schema().fields.items():
        value = settings.get(name)
        if declared.metadata.get("choices_from") == SOURCE and value not in (None, ""):
            ids.append(str(value))
    return component.label, ids


def _conditions(group: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for cond in group.get("conditions", []):
        found += _conditions(cond) if "op" in cond else [cond]
    return found


def uses(flow: Flow, registry: Registry) -> list[FormUse]:
    """Every place ``flow`` names a form, in the order the designer shows them."""
    found: list[FormUse] = []

    def look(kind: str, ref: dict[str, Any] | None, where: str, step_id: str | None = None) -> None:
        label, ids = _named(registry, kind, ref)
        found.extend(FormUse(form_id, where.format(label=label), step_id) for form_id in ids)

    doc = flow.doc
    look("triggers", doc.get("trigger"), "Trigger '{label}'")
    for cond in _conditions(doc.get("filters") or {}):
        look("filters", cond, "Filter '{label}'")
    for step_id in sorted(flow.steps, key=flow.number.get):
        step = flow.steps[step_id]
        for i, branch in enumerate(step.get("branches") or []):
            where = f"{flow.step_label(step_id, registry)} branch {i + 1}"
            look("filters", branch.get("condition"), where, step_id)
    for crit in (doc.get("success") or {}).get("criteria") or []:
        look("success_criteria", crit, "Success criterion '{label}'")
    return found


def problems(rt: Runtime, flow: Flow) -> list[tuple[str | None, str]]:
    """A form the flow names that was deleted keeps it from starting."""
    found = []
    for use in uses(flow, rt.registry):
        name = forms.deleted_name(rt.redis, use.form_id)
        if name is not None:
            found.append((use.step_id, f"{use.where}: the form '{name}' was deleted; choose another form"))
    return found


SAME_AS_STEP = {"selection": ("add_to_selection", "selection"), "project": ("add_to_project", "project")}
"""What a form's own actions would be as a step: setting of the form → (step type,
its setting).  The designer warns when the flow a form starts has that step too."""


def trigger_form_actions(rt: Runtime, flow: Flow) -> list[tuple[str, dict[str, Any]]]:
    """The form actions of the forms that start ``flow``, as ``(words, step reference)``."""
    found = []
    for use in uses(flow, rt.registry):
        if not use.where.startswith("Trigger"):
            continue
        try:
            form = forms.get(rt.redis, use.form_id)
        except forms.FormNotFound:
            continue
        for setting, (step_type, step_setting) in SAME_AS_STEP.items():
            if form.get(setting):
                ref = {"type": step_type, "settings": {step_setting: str(form[setting])}}
                found.append((f"the form '{form['name']}'", ref))
    return found
