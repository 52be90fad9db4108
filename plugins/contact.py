"""The contact's own data: update it, filter on it, trigger and succeed on changes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from superflow import hookimpl
from superflow.components import Filter, StepContext, StepResult, StepType, SuccessCriterion, Trigger
from superflow.crm import CrmError, person_value

OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "greater_than": "is more than",
    "less_than": "is less than",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
}
ACTIONS = ("set", "clear", "add", "subtract", "set_now")


class ConditionSettings(Schema):
    field = fields.String(required=True, metadata={"label": "Field", "widget": "crm_field"})
    operator = fields.String(
        load_default="equals", validate=validate.OneOf(tuple(OPERATORS)), metadata={"label": "Operator"}
    )
    value = fields.Raw(load_default=None, allow_none=True, metadata={"label": "Value"})


def compare(actual: Any, operator: str, expected: Any) -> bool:
    """One condition on one field value; numbers compare as numbers."""
    if operator == "is_empty":
        return actual in (None, "", [])
    if operator == "is_not_empty":
        return actual not in (None, "", [])
    if operator == "contains":
        if isinstance(actual, list):
            return expected in actual
        return str(expected).lower() in str(actual or "").lower()
    if operator in ("greater_than", "less_than"):
        try:
            a, b = float(actual), float(expected)
        except (TypeError, ValueError):
            return False
        return a > b if operator == "greater_than" else a < b
    same = _same(actual, expected)
    return same if operator == "equals" else not same


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    try:
        return float(actual) == float(expected)
    except (TypeError, ValueError):
        return (
            str(actual if actual is not None else "").lower()
            == str(expected if expected is not None else "").lower()
        )


def describe_condition(settings: dict[str, Any]) -> str:
    op = OPERATORS.get(settings.get("operator", "equals"), "is")
    value = "" if settings.get("operator") in ("is_empty", "is_not_empty") else f" {settings.get('value')!r}"
    return f"{settings.get('field', '?')} {op}{value}"


class FieldFilter(Filter):
    name = "field"
    label = "Field value"
    category = "Contact"
    settings_schema = ConditionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return describe_condition(settings)

    def matches(self, person: dict[str, Any], settings: dict[str, Any], participant: Any) -> bool:
        return compare(person_value(person, settings["field"]), settings["operator"], settings.get("value"))


class FieldValueCriterion(SuccessCriterion):
    name = "field_value"
    label = "Field has a value"
    category = "Contact"
    event_types = ("person.updated",)
    settings_schema = ConditionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When {describe_condition(settings)}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any) -> bool:
        changes = event.data.get("changes") or {}
        if settings["field"] not in changes:
            return False
        return compare(changes[settings["field"]][1], settings["operator"], settings.get("value"))

    def holds(self, person: dict[str, Any], settings: dict[str, Any], participant: Any) -> bool:
        return compare(person_value(person, settings["field"]), settings["operator"], settings.get("value"))


class FieldChangedSettings(Schema):
    field = fields.String(
        load_default=None, allow_none=True, metadata={"label": "Field", "help": "Empty: any field"}
    )
    value = fields.Raw(
        load_default=None, allow_none=True, metadata={"label": "Changed to", "help": "Empty: any value"}
    )


class FieldChangedTrigger(Trigger):
    name = "field_changed"
    label = "Contact field changed"
    category = "Contact"
    event_types = ("person.updated",)
    settings_schema = FieldChangedSettings

    def describe(self, settings: dict[str, Any]) -> str:
        field = settings.get("field") or "any field"
        to = f" to {settings['value']!r}" if settings.get("value") is not None else ""
        return f"When {field} changes{to}"

    def matches(self, event: Any, settings: dict[str, Any]) -> bool:
        changes = event.data.get("changes") or {}
        field = settings.get("field")
        if field is None:
            return bool(changes)
        if field not in changes:
            return False
        return settings.get("value") is None or _same(changes[field][1], settings["value"])


class ChangeSchema(Schema):
    field = fields.String(required=True, metadata={"label": "Field", "widget": "crm_field"})
    action = fields.String(load_default="set", validate=validate.OneOf(ACTIONS), metadata={"label": "Action"})
    value = fields.Raw(load_default=None, allow_none=True, metadata={"label": "Value"})


class UpdateContactSettings(Schema):
    changes = fields.List(
        fields.Nested(ChangeSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Changes"},
    )


class UpdateContact(StepType):
    name = "update_contact"
    label = "Update contact"
    category = "Contact"
    description = "Change fields on the person or the company."
    settings_schema = UpdateContactSettings

    def describe(self, settings: dict[str, Any]) -> str:
        parts = [f"{c.get('action', 'set')} {c.get('field')}" for c in settings.get("changes", [])]
        return "Update " + ", ".join(parts) if parts else self.label

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        updates = []
        for ctx in ctxs:
            changes = {c["field"]: self._value(c, ctx) for c in ctx.settings["changes"]}
            updates.append((ctx.participant.person_id, changes, ctx.idempotency_key))
        try:
            applied = ctxs[0].crm.update_persons(updates)
        except CrmError as exc:
            return [StepResult.exit(f"update failed: {exc}") for _ in ctxs]
        return [
            StepResult.advance(
                "updated " + ", ".join(sorted(done)) if done else "no change",
                counters={"contact.updated": 1},
            )
            for done in applied
        ]

    def _value(self, change: dict[str, Any], ctx: StepContext) -> Any:
        action, value = change["action"], change.get("value")
        if action == "clear":
            return None
        if action == "set_now":
            return ctx.now
        if action in ("add", "subtract"):
            current = person_value(ctx.person or {}, change["field"]) or 0
            delta = float(value or 0) * (1 if action == "add" else -1)
            total = float(current) + delta
            return int(total) if total.is_integer() else total
        return value


@hookimpl
def superflow_register_step_types(register):
    register(UpdateContact())


@hookimpl
def superflow_register_triggers(register):
    register(FieldChangedTrigger())


@hookimpl
def superflow_register_filters(register):
    register(FieldFilter())


@hookimpl
def superflow_register_success_criteria(register):
    register(FieldValueCriterion())
