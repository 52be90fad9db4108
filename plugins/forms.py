"""Forms: "form submitted" as a trigger and as a success criterion.

The web app turns a form post into ``form.submitted`` for the person, with the
form's id in ``data["form_id"]``.  An answer that needs the person's confirmation (a
person the CRM already has, or consents and subscriptions given) becomes the event
when the emailed link is confirmed (``data["confirmed"]`` true); a new person's
answer that gives nothing to confirm becomes it at once.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields

from superflow import Services
from superflow import SuccessCriterion
from superflow import Trigger
from superflow import hookimpl


class FormSettings(Schema):
    form = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Form",
            "help": "The form whose answers start the flow; “Any form”: every form",
            "choices_from": "forms",
            "x-empty-label": "Any form",
        },
    )


class FormSubmitted:
    """What the "form submitted" trigger and criterion share: the event, the form
    asked for, and the words for it."""

    category = "Forms"
    event_types = ("form.submitted",)
    settings_schema = FormSettings

    def describe(self, settings: dict[str, Any]) -> str:
        which = f"form {settings['form']!r}" if settings.get("form") else "any form"
        return f"When the person submits {which}"

    def submitted(self, event: Any, settings: dict[str, Any]) -> bool:
        """Is ``event`` an answer to the form asked for (any form, when none is)?"""
        wanted = settings.get("form")
        return not wanted or str(event.data.get("form_id")) == str(wanted)


class FormSubmittedTrigger(FormSubmitted, Trigger):
    name = "form_submitted"
    label = "Form submitted"
    description = "When the person submits a form (once confirmed, for answers confirmed by email)."

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return self.submitted(event, settings)

    def sample_event(self, settings: dict[str, Any]) -> dict[str, Any]:
        """A submission: the form's id and the answers under their field names."""
        return {
            "form_id": str(settings.get("form") or "1"),
            "fields": {"email": "ada@example.com", "first_name": "Ada", "message": "Please call me"},
            "created": False,
            "confirmed": True,
        }


class FormSubmittedCriterion(FormSubmitted, SuccessCriterion):
    name = "form_submitted"
    label = "Form submitted"
    description = "Success when the person submits the form (once confirmed, for answers confirmed by email)."

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        return self.submitted(event, settings)


@hookimpl
def superflow_register_triggers(register):
    register(FormSubmittedTrigger())


@hookimpl
def superflow_register_success_criteria(register):
    register(FormSubmittedCriterion())
