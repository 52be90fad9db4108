"""The contact's own data: update it, filter on it, trigger and succeed on changes.

The comparing itself (:func:`superflow.compare` and its neighbours) is the core's,
shared with the company, consent and date plugins and the branches of a split.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate
from marshmallow.fields import Raw

from superflow import OPERATORS
from superflow import VALUELESS
from superflow import CrmError
from superflow import FieldInfo
from superflow import Filter
from superflow import Services
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import SuccessCriterion
from superflow import Trigger
from superflow import as_moment
from superflow import as_number
from superflow import as_text
from superflow import as_truth
from superflow import changed
from superflow import compare
from superflow import describe_watch
from superflow import field_name_problem
from superflow import hookimpl
from superflow import person_value
from superflow import relative_seconds
from superflow import watch_problems
from superflow import watched
from superflow import zone

# Fields every CRM backend gives (the person dict of superflow.crm) and their types:
# readiness can check an action or operator against them without asking the CRM.
KNOWN_TYPES = {
    "first_name": "text",
    "last_name": "text",
    "full_name": "text",
    "email": "text",
    "mobile": "text",
    "language": "text",
    "timezone": "text",
    "birth_date": "date",
    "email_blocked": "bool",
    "company.name": "text",
    "company.category": "text",
    "company.business": "text",
}


def condition_problems(settings: dict[str, Any]) -> list[str]:
    """What the schema cannot tell about a field condition: the operator's value."""
    problems = []
    name_problem = field_name_problem(settings.get("field"))
    if name_problem:
        problems.append(name_problem)
    operator = settings.get("operator", "equals")
    value = settings.get("value")
    known = KNOWN_TYPES.get(settings.get("field", ""))
    if operator in VALUELESS:
        if operator in ("is_true", "is_false") and known not in (None, "bool"):
            problems.append(f"operator: {settings['field']!r} is a {known} field; it is never true or false")
        return problems
    if value is None or value == "" or value == []:
        return [*problems, f"value is required when the operator is {operator!r}"]
    if operator in ("greater_than", "less_than") and as_number(value) is None:
        problems.append(f"value: {operator!r} needs a number, not {value!r}")
    elif operator in ("before", "after") and relative_seconds(value) is None and as_moment(value) is None:
        problems.append(
            f"value: {value!r} is not a date ('2024-05-01') or a time relative to now ('-30 days')"
        )
    elif operator in ("before", "after") and known not in (None, "date", "datetime"):
        problems.append(f"operator: {settings['field']!r} is a {known} field, not a date")
    return problems


def describe_condition(settings: dict[str, Any]) -> str:
    operator = settings.get("operator", "equals")
    op = OPERATORS.get(operator, "is")
    value = "" if operator in VALUELESS else f" {settings.get('value')!r}"
    return f"{settings.get('field', '?')} {op}{value}"


class ConditionSettings(Schema):
    field = fields.String(
        required=True,
        metadata={
            "label": "Field",
            "help": "A person field (email, language, an extra field) or company.<field>",
            "widget": "crm_field",
            "choices_from": "person_fields",
        },
    )
    operator = fields.String(
        load_default="equals",
        validate=validate.OneOf(tuple(OPERATORS)),
        metadata={"label": "Operator", "help": "How the field is compared", "choices_labels": OPERATORS},
    )
    value = fields.Raw(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Value",
            "help": "Text, a number, a date or '-30 days' (before/after), or a list (is one of)",
        },
    )


class FieldCondition:
    """What the field filter and the "field has a value" criterion share: the
    condition's settings, its readiness, and the comparison."""

    category = "Contact"
    settings_schema = ConditionSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return condition_problems(settings)

    def meets(self, value: Any, settings: dict[str, Any], services: Services) -> bool:
        """Does the field's ``value`` meet the condition (now, for relative dates)?"""
        return compare(value, settings["operator"], settings.get("value"), services.clock.now())


class FieldFilter(FieldCondition, Filter):
    name = "field"
    label = "Field value"
    description = "A condition on a field of the person or their company."

    def describe(self, settings: dict[str, Any]) -> str:
        return describe_condition(settings)

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return self.meets(person_value(person, settings["field"]), settings, services)


class FieldValueCriterion(FieldCondition, SuccessCriterion):
    name = "field_value"
    label = "Field has a value"
    description = "Success when a field of the person (or company) meets a condition, whoever changed it."
    event_types = ("person.updated",)

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When {describe_condition(settings)}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        changes = event.data.get("changes") or {}
        if settings["field"] not in changes:
            return False
        return self.meets(changes[settings["field"]][1], settings, services)

    def holds(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return self.meets(person_value(person, settings["field"]), settings, services)


# -- simple contact filters -------------------------------------------------------------
class HasEmailSettings(Schema):
    usable = fields.Boolean(
        load_default=True,
        metadata={
            "label": "Only usable addresses",
            "help": "Leave out addresses that are blocked or bounced",
        },
    )


class HasEmail(Filter):
    name = "has_email"
    label = "Has email address"
    category = "Contact"
    description = "The person has an email address (by default one that is not blocked)."
    settings_schema = HasEmailSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return "Has a usable email address" if settings.get("usable", True) else "Has an email address"

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        if not as_text(person.get("email")):
            return False
        return not (settings["usable"] and person.get("email_blocked"))


class HasMobile(Filter):
    name = "has_mobile"
    label = "Has mobile number"
    category = "Contact"
    description = "The person has a mobile number."

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return bool(as_text(person.get("mobile")))


class LanguageSettings(Schema):
    languages = fields.List(
        fields.String(validate=validate.Length(min=1)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Languages", "help": "Language codes such as en, nb, sv ('en' matches 'en-GB')"},
    )


class Language(Filter):
    name = "language"
    label = "Language"
    category = "Contact"
    description = "The person's language is one of the given ones."
    settings_schema = LanguageSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return "Language is " + " or ".join(settings.get("languages") or ["?"])

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        language = as_text(person.get("language")).replace("_", "-")
        if not language:
            return False
        wanted = [as_text(code).replace("_", "-") for code in settings["languages"]]
        return any(language == code or language.startswith(code + "-") for code in wanted)


# -- triggers and the "changed" criterion -----------------------------------------------
class FieldChangedSettings(Schema):
    # 'fields' below shadows marshmallow's module inside this class: Raw is imported by name.
    field = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Field", "help": "One field to watch (kept for older flows; see Fields)"},
    )
    fields = fields.List(
        fields.String(),
        load_default=list,
        metadata={
            "label": "Fields",
            "help": "Fires when any of these changes; empty (and no Field): any field",
            "widget": "crm_field",
            "choices_from": "person_fields",
        },
    )
    value = Raw(
        load_default=None,
        allow_none=True,
        metadata={"label": "Changed to", "help": "Only when the new value is this; empty: any value"},
    )


class FieldWatch:
    """What the "contact changed" trigger and criterion share: which fields they
    watch (and the value changed to), in settings, in words and against an event."""

    category = "Contact"
    event_types = ("person.updated",)
    settings_schema = FieldChangedSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return watch_problems(settings)

    def describe(self, settings: dict[str, Any]) -> str:
        return describe_watch(settings)

    def seen_in(self, event: Any, settings: dict[str, Any]) -> bool:
        """Did one of the watched fields change (to the value, if given) in ``event``?"""
        return changed(event.data.get("changes") or {}, watched(settings), settings.get("value"))


class FieldChangedTrigger(FieldWatch, Trigger):
    name = "field_changed"
    label = "Contact changed"
    description = "When fields of the person (or their company) change, whoever changed them."

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return self.seen_in(event, settings)

    def sample_event(self, settings: dict[str, Any]) -> dict[str, Any]:
        """What changed: each watched field with ``[value before, value after]``."""
        after = settings.get("value")
        names = watched(settings) or ["email"]
        return {"changes": {name: ["", "" if after is None else after] for name in names}}


class FieldChangedCriterion(FieldWatch, SuccessCriterion):
    name = "field_changed"
    label = "Contact updated"
    description = "Success when one of the fields changes (to the value, if given), whoever changed it."

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        return self.seen_in(event, settings)


class PersonCreated(Trigger):
    name = "person_created"
    label = "Contact created"
    category = "Contact"
    description = "When a new person is registered in the CRM."
    event_types = ("person.created",)

    def describe(self, settings: dict[str, Any]) -> str:
        return "When a person is created in the CRM"

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return True


# -- update contact -------------------------------------------------------------------
ACTIONS = {
    "set": "set",
    "clear": "clear",
    "add": "add to",
    "subtract": "subtract from",
    "set_now": "set to now",
    "set_relative": "set relative to now",
}
TYPE_ACTIONS = {
    "text": ("set", "clear"),
    "list": ("set", "clear"),
    "number": ("set", "clear", "add", "subtract"),
    "date": ("set", "clear", "set_now", "set_relative"),
    "datetime": ("set", "clear", "set_now", "set_relative"),
    "bool": ("set",),
}


class Refused(Exception):
    """A change that cannot be made for this person; the message names the field."""


class ChangeSchema(Schema):
    field = fields.String(
        required=True,
        metadata={
            "label": "Field",
            "help": "A person field or company.<field> (changes the person's company)",
            "widget": "crm_field",
            "choices_from": "writable_fields",
        },
    )
    action = fields.String(
        load_default="set",
        validate=validate.OneOf(tuple(ACTIONS)),
        metadata={
            "label": "Action",
            "help": "text/list: set, clear; number: also add, subtract; date: also set_now,"
            " set_relative; yes/no: set",
            "choices_labels": ACTIONS,
        },
    )
    value = fields.Raw(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Value",
            "help": "The new value; the amount to add or subtract; '+3 days' for set_relative",
            "show_if": {"action": ["set", "add", "subtract", "set_relative"]},
        },
    )


class UpdateContactSettings(Schema):
    changes = fields.List(
        fields.Nested(ChangeSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Changes", "help": "One or more fields to change, in order"},
    )


def _describe_change(change: dict[str, Any]) -> str:
    action, field, value = change.get("action", "set"), change.get("field", "?"), change.get("value")
    if action == "set":
        return f"set {field} to {value!r}"
    if action == "clear":
        return f"clear {field}"
    if action == "add":
        return f"add {value} to {field}"
    if action == "subtract":
        return f"subtract {value} from {field}"
    if action == "set_now":
        return f"set {field} to now"
    return f"set {field} to now {value}"


class UpdateContact(StepType):
    """Change fields of the person or their company, like a bulk update in the CRM.

    What can be done depends on the field's type (``TYPE_ACTIONS``).  Readiness
    checks what it can without the CRM (fields every CRM has, values); the CRM's
    own field list is known only when the step runs, so an unknown field or an
    action that does not suit the field's type there makes the participant exit
    with a reason naming the field.  "add"/"subtract" read the value from the
    person fetched for the step and write the sum: the idempotency key makes a
    run after a crash apply nothing twice, but a change another process makes
    between the read and the write is overwritten.
    """

    name = "update_contact"
    link_action = True
    label = "Update contact"
    category = "Contact"
    description = "Change fields on the person or the company."
    settings_schema = UpdateContactSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        problems: list[str] = []
        seen: set[str] = set()
        for i, change in enumerate(settings.get("changes") or []):
            where = f"changes[{i}]"
            field, action, value = change.get("field"), change.get("action", "set"), change.get("value")
            name_problem = field_name_problem(field, f"{where}.field")
            if name_problem:
                problems.append(name_problem)
                continue
            if field in seen:
                problems.append(f"{where}.field: {field!r} is changed twice in this step")
            seen.add(field)
            known = KNOWN_TYPES.get(field)
            if field == "full_name":
                problems.append(f"{where}.field: 'full_name' is made from first_name and last_name")
            elif known is not None and action not in TYPE_ACTIONS[known]:
                problems.append(f"{where}.action: {_not_for(field, action, known)}")
            problems += _value_problems(where, field, action, value, known)
        return problems

    def describe(self, settings: dict[str, Any]) -> str:
        parts = [_describe_change(c) for c in settings.get("changes", [])]
        return ("Update contact: " + ", ".join(parts)) if parts else self.label

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        known = {f.key: f for f in ctxs[0].crm.list_fields()}
        results: dict[int, StepResult] = {}
        updates: dict[int, tuple[str, dict[str, Any], str]] = {}
        for i, ctx in enumerate(ctxs):
            try:
                updates[i] = (ctx.participant.person_id, self._changes(ctx, known), ctx.idempotency_key)
            except Refused as exc:
                results[i] = StepResult.exit(f"update failed: {exc}")
        for i, done in self._write(ctxs[0].crm, updates, results).items():
            if done:
                shown = ", ".join(f"{k} {_short(v[0])} → {_short(v[1])}" for k, v in done.items())
                results[i] = StepResult.advance(f"updated {shown}", counters={"contact.updated": 1})
            else:
                results[i] = StepResult.advance("no change")
        return [results[i] for i in range(len(ctxs))]

    def _write(
        self, crm: Any, updates: dict[int, tuple[str, dict[str, Any], str]], results: dict[int, StepResult]
    ) -> dict[int, dict[str, Any]]:
        """Apply the updates in one call; what each changed, by index."""
        if not updates:
            return {}
        try:
            return dict(zip(updates, crm.update_persons(list(updates.values())), strict=True))
        except CrmError:
            pass
        # One bad update fails the whole batch (the local CRM checks all first): find
        # out whose it was, so only that participant exits.
        applied = {}
        for i, update in updates.items():
            try:
                applied[i] = crm.update_persons([update])[0]
            except CrmError as exc:
                results[i] = StepResult.exit(f"update failed: {exc}")
        return applied

    def _changes(self, ctx: StepContext, known: dict[str, FieldInfo]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for change in ctx.settings["changes"]:
            field, action = change["field"], change["action"]
            info = known.get(field)
            if info is None:
                raise Refused(f"unknown field {field!r}: the CRM has no such person or company field")
            if not info.writable:
                raise Refused(f"field {field!r} cannot be changed")
            allowed = TYPE_ACTIONS.get(info.type, ("set", "clear"))
            if action not in allowed:
                raise Refused(_not_for(field, action, info.type))
            if info.entity == "company" and not (ctx.person or {}).get("company"):
                raise Refused(f"cannot change {field!r}: the person has no company")
            changes[field] = self._value(change, info, ctx)
        return changes

    def _value(self, change: dict[str, Any], info: FieldInfo, ctx: StepContext) -> Any:
        action, value, field = change["action"], change.get("value"), change["field"]
        if action == "clear":
            return None
        if action in ("add", "subtract"):
            delta = as_number(value)
            if delta is None:
                raise Refused(f"cannot {action} {value!r}: {field!r} needs a number")
            current = as_number(person_value(ctx.person or {}, field)) or 0.0
            total = current + (delta if action == "add" else -delta)
            return int(total) if total.is_integer() else total
        if action in ("set_now", "set_relative"):
            seconds = 0.0 if action == "set_now" else relative_seconds(value)
            if seconds is None:
                raise Refused(f"{value!r} is not a time relative to now such as '+3 days' (for {field!r})")
            tz = zone((ctx.person or {}).get("timezone"), ctx.flow.doc.get("timezone", "UTC"))
            moment = dt.datetime.fromtimestamp(ctx.now + seconds, tz).replace(microsecond=0)
            return moment.date().isoformat() if info.type == "date" else moment.isoformat()
        return _as_type(value, info)


def _as_type(value: Any, info: FieldInfo) -> Any:
    """A value typed in the designer (often text) as the field's type wants it."""
    if info.type == "number" and isinstance(value, str):
        number = as_number(value)
        if number is None:
            raise Refused(f"{value!r} is not a number (for {info.key!r})")
        return int(number) if number.is_integer() else number
    if info.type == "bool" and not isinstance(value, bool):
        truth = as_truth(value) if value is not None else None
        if truth is None:
            raise Refused(f"{value!r} is not true or false (for {info.key!r})")
        return truth
    if info.type == "text" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _not_for(field: str, action: str, field_type: str) -> str:
    allowed = ", ".join(TYPE_ACTIONS.get(field_type, ("set", "clear")))
    return f"cannot {action} {field!r}: it is a {field_type} field (it can be: {allowed})"


def _value_problems(where: str, field: str, action: str, value: Any, known: str | None) -> list[str]:
    if action == "set" and value is None:
        return [f"{where}.value is required to set {field!r} (use clear to empty it)"]
    if action in ("add", "subtract") and as_number(value) is None:
        return [f"{where}.value: {action} needs a number, not {value!r}"]
    if action == "set_relative" and relative_seconds(value) is None:
        return [f"{where}.value: {value!r} is not a time relative to now such as '+3 days' or '-2 hours'"]
    if action == "set" and known == "date" and isinstance(value, str) and as_moment(value) is None:
        return [f"{where}.value: {value!r} is not a date such as '2024-05-01'"]
    return []


def _short(value: Any) -> str:
    text = "(empty)" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


@hookimpl
def superflow_register_step_types(register):
    register(UpdateContact())


@hookimpl
def superflow_register_triggers(register):
    register(FieldChangedTrigger())
    register(PersonCreated())


@hookimpl
def superflow_register_filters(register):
    register(FieldFilter())
    register(HasEmail())
    register(HasMobile())
    register(Language())


@hookimpl
def superflow_register_success_criteria(register):
    register(FieldValueCriterion())
    register(FieldChangedCriterion())
