"""The catalogue: every installed step type, trigger, filter and success criterion
with its settings, written from the plugins' own schemas.

``superflow plugins docs`` prints it; ``docs/builtins.md`` is its output for the
built-in plugins, and a test keeps the two the same.
"""

from __future__ import annotations

import inspect
from typing import Any

from marshmallow import fields
from marshmallow import missing
from marshmallow import validate

from superflow.registry import Registry

SECTIONS = (
    ("triggers", "Triggers", "When a person is suggested as a participant."),
    ("filters", "Filters", "Who may enter; the same conditions serve split branches."),
    ("step_types", "Step types", "What happens to each participant."),
    ("success_criteria", "Success criteria", "When the flow has done its job for a person."),
    ("crm_backends", "CRM backends", "Where persons live (`SUPERFLOW_CRM`)."),
    ("email_transports", "Email transports", "How emails leave (`SUPERFLOW_EMAIL_TRANSPORT`)."),
    ("sms_providers", "SMS providers", "How text messages leave (`SUPERFLOW_SMS_PROVIDER`)."),
    ("scripts", "Scripts", "What the run script step can run."),
)


def catalogue(registry: Registry) -> str:
    """Markdown describing every registered component, grouped by kind."""
    out = [
        "# Built-in flow parts",
        "",
        "Written by `superflow plugins docs` from the plugins' own settings schemas; do not edit by hand.",
        "",
    ]
    for kind, title, blurb in SECTIONS:
        items = registry.all(kind)
        if not items:
            continue
        out += [f"## {title}", "", blurb, ""]
        for name in sorted(items, key=lambda n: (getattr(items[n], "category", ""), n)):
            out += _component(kind, name, items[name], registry.owners[(kind, name)])
    return "\n".join(out).rstrip() + "\n"


def _component(kind: str, name: str, item: Any, owner: str) -> list[str]:
    category = getattr(item, "category", "")
    lines = [f"### {item.label} (`{name}`)", ""]
    facts = [f"from `{owner}`"]
    if category:
        facts.insert(0, f"palette: {category}")
    for attribute, label in (("event_types", "listens to"), ("sends", "sends")):
        value = getattr(item, attribute, None)
        if value:
            shown = ", ".join(f"`{v}`" for v in value) if isinstance(value, tuple) else f"`{value}`"
            facts.append(f"{label} {shown}")
    sentence = "; ".join(facts)
    lines += [sentence[0].upper() + sentence[1:] + ".", ""]
    if getattr(item, "description", ""):
        lines += [item.description, ""]
    if getattr(item, "guide", ""):
        lines += [inspect.cleandoc(item.guide), ""]
    schema = getattr(item, "settings_schema", None)
    if schema is not None and schema().fields:
        lines += ["| setting | type | required | default | what it is |", "|---|---|---|---|---|"]
        lines += _rows("", schema())
        lines.append("")
    return lines


def _rows(prefix: str, schema: Any) -> list[str]:
    """A row per setting; an object's or a list of objects' own settings follow it
    as ``owner.rule`` or ``changes[].field``."""
    rows = []
    for field_name, field in schema.fields.items():
        rows.append(_row(prefix + field_name, field))
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested) and not inspect.isfunction(inner.nested):
            nested = inner.schema
            rows += _rows(f"{prefix}{field_name}{'[]' if inner is not field else ''}.", nested)
    return rows


def _row(name: str, field: fields.Field) -> str:
    meta = field.metadata
    what = meta.get("label", "")
    if meta.get("help"):
        what = f"{what}: {meta['help']}" if what else meta["help"]
    choices = [v for v in field.validators if isinstance(v, validate.OneOf)]
    if choices:
        what += " (one of " + ", ".join(f"`{c}`" for c in choices[0].choices) + ")"
    if meta.get("merge_tags"):
        what += " Merge tags allowed."
    default = field.load_default
    shown = "" if default is None or callable(default) or default is missing else f"`{default!r}`"
    required = "yes" if field.required else ""
    return f"| `{name}` | {_type_name(field)} | {required} | {shown} | {what.strip()} |".replace("\n", " ")


def _type_name(field: fields.Field) -> str:
    if isinstance(field, fields.List):
        return f"list of {_type_name(field.inner)}"
    if isinstance(field, fields.Nested):
        return "object"
    return type(field).__name__.lower()
