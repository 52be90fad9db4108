"""A component's settings schema (marshmallow) as JSON Schema, for the designer's
forms and for integrators: one document for both.

Field metadata carries over: ``label`` → ``title``, ``help`` → ``description``,
``merge_tags`` → ``x-merge-tags``, ``widget`` → ``x-widget`` (how the designer edits it:
``html``, ``textarea``, ``sms`` or a plugin's widget), ``choices_labels`` →
``x-enum-labels``, ``choices_from`` → ``x-choices`` (a CRM list the designer offers:
:data:`superflow.choices.SOURCES`), ``show_if`` → ``x-show-if`` (``{"other field":
value or [values]}``: shown only then), ``upload_url`` → ``x-upload`` (where the
designer uploads files for it); ``x-order`` lists the properties in the order the
schema declares them (JSON objects may arrive sorted); ``OneOf``, ``Range``, ``Length`` and ``Regexp``
validators become ``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength``
and ``pattern``.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import missing
from marshmallow import validate

EXTENSIONS = {
    "widget": "x-widget",
    "choices_labels": "x-enum-labels",
    "choices_from": "x-choices",
    "show_if": "x-show-if",
    "upload_url": "x-upload",
    "section": "x-section",
}
_TYPES: tuple[tuple[type[fields.Field], dict[str, Any]], ...] = (
    (fields.Email, {"type": "string", "format": "email"}),
    (fields.Url, {"type": "string", "format": "uri"}),
    (fields.UUID, {"type": "string", "format": "uuid"}),
    (fields.AwareDateTime, {"type": "string", "format": "date-time"}),
    (fields.NaiveDateTime, {"type": "string", "format": "date-time"}),
    (fields.DateTime, {"type": "string", "format": "date-time"}),
    (fields.Date, {"type": "string", "format": "date"}),
    (fields.Time, {"type": "string", "format": "time"}),
    (fields.String, {"type": "string"}),
    (fields.Boolean, {"type": "boolean"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Number, {"type": "number"}),
    (fields.Dict, {"type": "object"}),
    (fields.Raw, {}),
)


def schema_to_jsonschema(schema: Schema | type[Schema] | None, depth: int = 0) -> dict[str, Any]:
    """The JSON Schema of an object that ``schema`` loads (``None``: no settings)."""
    out: dict[str, Any] = {"type": "object", "properties": {}}
    if schema is None:
        out["additionalProperties"] = False
        return out
    instance = schema() if isinstance(schema, type) else schema
    required = []
    for name, field in instance.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        out["properties"][key] = field_to_jsonschema(field, depth)
        if field.required:
            required.append(key)
    if required:
        out["required"] = required
    out["x-order"] = list(out["properties"])
    out["additionalProperties"] = False
    return out


def field_to_jsonschema(field: fields.Field, depth: int = 0) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    if isinstance(field, fields.List):
        prop = {"type": "array", "items": field_to_jsonschema(field.inner, depth)}
    elif isinstance(field, fields.Nested):
        nested = field.nested
        if depth > 5 or (inspect.isfunction(nested) and depth > 2):
            prop = {"type": "object"}
        else:
            inner = schema_to_jsonschema(field.schema, depth + 1)
            prop = {"type": "array", "items": inner} if field.many else inner
    else:
        for kind, base in _TYPES:
            if isinstance(field, kind):
                prop = dict(base)
                break
    meta = field.metadata
    if meta.get("label"):
        prop["title"] = str(meta["label"])
    if meta.get("help") or meta.get("description"):
        prop["description"] = str(meta.get("help") or meta.get("description"))
    if meta.get("merge_tags"):
        prop["x-merge-tags"] = True
    for key, extension in EXTENSIONS.items():
        if meta.get(key):
            prop[extension] = _json(meta[key])
    for key, value in meta.items():
        if key.startswith("x-"):
            prop[key] = value
    _validators(field, prop)
    default = field.load_default
    if default is not missing and not callable(default):
        prop["default"] = _json(default)
    if field.allow_none and "type" in prop:
        prop["type"] = [prop["type"], "null"]
    return prop


def _validators(field: fields.Field, prop: dict[str, Any]) -> None:
    is_array = prop.get("type") == "array"
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            prop["enum"] = [_json(c) for c in v.choices]
        elif isinstance(v, validate.Range):
            if v.min is not None:
                prop["exclusiveMinimum" if not v.min_inclusive else "minimum"] = v.min
            if v.max is not None:
                prop["exclusiveMaximum" if not v.max_inclusive else "maximum"] = v.max
        elif isinstance(v, validate.Length):
            low, high = ("minItems", "maxItems") if is_array else ("minLength", "maxLength")
            if v.equal is not None:
                prop[low] = prop[high] = v.equal
            else:
                if v.min is not None:
                    prop[low] = v.min
                if v.max is not None:
                    prop[high] = v.max
        elif isinstance(v, validate.Regexp):
            prop["pattern"] = v.regex.pattern


def _json(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def component_entry(registry: Any, kind: str, name: str, item: Any) -> dict[str, Any]:
    """One installed trigger, filter, step type or success criterion as JSON: what the
    API's ``/plugins`` lists and the designer's palette and forms are built from."""
    return {
        "kind": kind,
        "name": name,
        "label": getattr(item, "label", "") or name,
        "category": getattr(item, "category", "") or "",
        "description": getattr(item, "description", "") or "",
        "plugin": registry.owners.get((kind, name), ""),
        "settings": schema_to_jsonschema(getattr(item, "settings_schema", None)),
    }
