"""A flow put into words and shapes for the admin: the trigger, filters and success
criteria as sentences, and the steps as a tree the Flow tab draws.

Every sentence comes from the component's own ``describe``; the admin knows no
particular step type, trigger or filter.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from superflow import choices
from superflow.flow import Flow
from superflow.flow import settings_of
from superflow.registry import Registry
from superflow.registry import UnknownComponent

REENROLMENT_WORDS = {
    "once": "A person takes part once; later matches are ignored.",
    "after_end": "A person can take part again once their previous run has ended.",
    "restart": "A new match starts the person again from the beginning.",
}
ON_SUCCESS_WORDS = {
    "stop": "leave the flow as succeeded",
    "continue": "are counted as succeeded and go on with the steps",
    "move_to": "leave and start flow {flow}",
}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Labels:
    """CRM names for the ids settings hold (a selection's name for its id), read once
    per page from :mod:`superflow.choices`; a CRM that fails leaves the ids."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.cache: dict[str, dict[str, str]] = {}

    def __call__(self, source: str) -> dict[str, str]:
        if source not in self.cache:
            try:
                self.cache[source] = {c["value"]: c["label"] for c in choices.choices(self.rt, source)}
            except Exception:  # any CRM backend's failure: show the ids
                self.cache[source] = {}
        return self.cache[source]


def _named(component: Any, settings: dict[str, Any], labels: Labels | None) -> dict[str, Any]:
    """``settings`` with ids of CRM things (fields marked ``choices_from``) replaced by
    their quoted names, for words only."""
    schema = getattr(component, "settings_schema", None)
    if labels is None or schema is None:
        return settings
    named = dict(settings)
    for name, declared in schema().fields.items():
        source = declared.metadata.get("choices_from")
        value = named.get(name)
        if source and isinstance(value, str) and (label := labels(source).get(value)):
            named[name] = f"'{label}'"
    return named


def component_words(
    registry: Registry, kind: str, ref: dict[str, Any] | None, labels: Labels | None = None
) -> str:
    """``ref`` (``{"type", "settings"}``) in the component's own words, with the names
    of the CRM things it refers to when ``labels`` is given."""
    if not ref:
        return ""
    try:
        component = registry.get(kind, ref["type"])
    except UnknownComponent:
        return f"{ref['type']} (not installed)"
    with contextlib.suppress(Exception):
        settings = settings_of(component, ref.get("settings") or {})
        words = component.describe(_named(component, settings, labels))
        if words:
            return merge_words(words)
    return component.label or ref["type"]


MERGE_TAG = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|[^}]*)?\}\}|\[\[\s*([A-Za-z_][\w.]*)\s*\]\]")


def merge_words(text: str) -> str:
    """Merge tags as the marketer reads them: ``{{ person.first_name | default("friend") }}``
    → "[First name]" (the designer's chart writes them the same way)."""
    return MERGE_TAG.sub(
        lambda m: "[" + (m.group(1) or m.group(2)).rsplit(".", 1)[-1].replace("_", " ").capitalize() + "]",
        text,
    )


def filter_words(registry: Registry, group: dict[str, Any], labels: Labels | None = None) -> dict[str, Any]:
    """``{"op": "all"|"any", "items": [str | nested group]}``."""
    items: list[Any] = []
    for cond in group.get("conditions", []):
        if "op" in cond:
            items.append(filter_words(registry, cond, labels))
        else:
            items.append(component_words(registry, "filters", cond, labels))
    return {"op": "all" if group.get("op", "and") == "and" else "any", "items": items}


def send_window_words(window: dict[str, Any] | None, timezone: str) -> str:
    if not window:
        return "Any time"
    days = window.get("days", [])
    named = ", ".join(DAY_NAMES[d] for d in sorted(days))
    if sorted(days) == [0, 1, 2, 3, 4]:
        named = "Weekdays"
    elif sorted(days) == list(range(7)):
        named = "Every day"
    return f"{named} {window.get('start', '')}–{window.get('end', '')} ({timezone})"


def summary(registry: Registry, flow: Flow, labels: Labels | None = None) -> dict[str, Any]:
    doc = flow.doc
    success = doc["success"]
    return {
        "trigger": component_words(registry, "triggers", doc["trigger"], labels) or "No trigger yet",
        "filters": filter_words(registry, doc["filters"], labels),
        "criteria": [component_words(registry, "success_criteria", c, labels) for c in success["criteria"]],
        "on_success": ON_SUCCESS_WORDS[success["on_success"]].format(flow=success.get("move_to_flow") or "?"),
        "reenrollment": REENROLMENT_WORDS[doc["reenrollment"]],
        "send_window": send_window_words(doc.get("send_window"), doc.get("timezone", "UTC")),
        "exclusion": doc.get("exclusion_selection"),
    }


def step_tree(registry: Registry, flow: Flow, labels: Labels | None = None) -> list[dict[str, Any]]:
    """The steps as nested nodes: each with its number, label, type and words, and a
    split's branches (the fixed "everyone else" branch last)."""

    def node(step: dict[str, Any]) -> dict[str, Any]:
        try:
            step_type = registry.step_type(step["type"])
            type_label, category = step_type.label, step_type.category
        except UnknownComponent:
            type_label, category = f"{step['type']} (not installed)", ""
        branches = None
        if "branches" in step or "everyone_else" in step:
            branches = [
                {
                    "name": b.get("name") or f"Branch {i + 1}",
                    "condition": component_words(registry, "filters", b.get("condition"), labels),
                    "steps": [node(s) for s in b.get("steps", [])],
                    "index": i,
                }
                for i, b in enumerate(step.get("branches", []))
            ]
            branches.append(
                {
                    "name": "Everyone else",
                    "condition": "",
                    "steps": [node(s) for s in step.get("everyone_else", [])],
                    "index": len(branches),
                }
            )
        return {
            "id": step["id"],
            "number": flow.number.get(step["id"], 0),
            "name": step.get("name") or type_label,
            "type": step["type"],
            "type_label": type_label,
            "category": category,
            "words": component_words(registry, "step_types", step, labels),
            "branches": branches,
        }

    return [node(s) for s in flow.doc["steps"]]
