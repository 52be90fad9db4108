"""The person's company: filters on its category and business, and a trigger for
changes to its fields.

A company change reaches superflow as the events of the persons it concerns: the
local CRM emits ``person.updated`` with ``company.*`` keys in ``changes`` for the
person through whom a company field was changed; a CRM that reports a change to
the company itself sends ``company.updated`` for each person of the company, with
``data = {"company_id": ..., "changes": {"category": [old, new]}}`` (keys with or
without ``company.``).  The trigger takes both.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate
from marshmallow.fields import Raw

from superflow import Filter
from superflow import Services
from superflow import Trigger
from superflow import changed
from superflow import describe_watch
from superflow import hookimpl
from superflow import same
from superflow import watch_problems

PREFIX = "company."
MEMBERSHIP = {"in": "is one of", "not_in": "is none of"}


class ValuesSettings(Schema):
    values = fields.List(
        fields.String(validate=validate.Length(min=1)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Values", "help": "Matches when the company's value is one of these (any case)"},
    )
    operator = fields.String(
        load_default="in",
        validate=validate.OneOf(tuple(MEMBERSHIP)),
        metadata={
            "label": "Operator",
            "help": "in: is one of the values; not_in: is none of them (or there is no company)",
            "choices_labels": MEMBERSHIP,
        },
    )


class _CompanyValue(Filter):
    category = "Company"
    settings_schema = ValuesSettings
    attribute = ""

    def describe(self, settings: dict[str, Any]) -> str:
        values = " or ".join(repr(v) for v in settings.get("values") or ["?"])
        verb = MEMBERSHIP.get(settings.get("operator", "in"), "is one of")
        return f"Company {self.attribute} {verb} {values}"

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        value = (person.get("company") or {}).get(self.attribute)
        found = value is not None and any(same(value, wanted) for wanted in settings["values"])
        return found if settings["operator"] == "in" else not found


class CompanyCategory(_CompanyValue):
    name = "company_category"
    label = "Company category"
    description = "The person's company has one of the given categories (Customer, Prospect, ...)."
    attribute = "category"


class CompanyBusiness(_CompanyValue):
    name = "company_business"
    label = "Company business"
    description = "The person's company is in one of the given businesses (IT, Retail, ...)."
    attribute = "business"


class CompanyChangedSettings(Schema):
    # 'fields' below shadows marshmallow's module inside this class: Raw is imported by name.
    fields = fields.List(
        fields.String(),
        load_default=list,
        metadata={
            "label": "Fields",
            "help": "Company fields to watch (category or company.category); empty: any company field",
            "widget": "crm_field",
            "choices_from": "company_fields",
        },
    )
    value = Raw(
        load_default=None,
        allow_none=True,
        metadata={"label": "Changed to", "help": "Only when the new value is this; empty: any value"},
    )


def company_changes(event: Any) -> dict[str, Any]:
    """The company part of an event's ``changes``, keyed ``company.<field>``."""
    changes = event.data.get("changes") or {}
    if event.type == "company.updated":
        return {key if key.startswith(PREFIX) else PREFIX + key: diff for key, diff in changes.items()}
    return {key: diff for key, diff in changes.items() if key.startswith(PREFIX)}


def _qualified(settings: dict[str, Any]) -> list[str]:
    return [name if name.startswith(PREFIX) else PREFIX + name for name in settings.get("fields") or []]


class CompanyChanged(Trigger):
    name = "company_changed"
    label = "Company changed"
    category = "Company"
    description = "When fields of the person's company change, whoever changed them."
    event_types = ("company.updated", "person.updated")
    settings_schema = CompanyChangedSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return watch_problems({"fields": _qualified(settings)})

    def describe(self, settings: dict[str, Any]) -> str:
        return describe_watch({**settings, "fields": _qualified(settings)}, "any company field")

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return changed(company_changes(event), _qualified(settings), settings.get("value"), PREFIX)


@hookimpl
def superflow_register_filters(register):
    register(CompanyCategory())
    register(CompanyBusiness())


@hookimpl
def superflow_register_triggers(register):
    register(CompanyChanged())
