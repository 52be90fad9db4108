"""Events from outside: the "API event" trigger and success criterion, and the
"manual" trigger for flows that people are only ever added to by hand."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validates

from superflow import Services
from superflow import SuccessCriterion
from superflow import Trigger
from superflow import hookimpl


class ApiEventSettings(Schema):
    name = fields.String(
        required=True,
        metadata={"label": "Event name", "help": "The name integrations send, e.g. webinar.attended"},
    )


#: A typed sample event is at most this long (it is a sample, not a data store).
MAX_SAMPLE_CHARS = 16_000


def parse_sample(text: str | None) -> dict[str, Any]:
    """The sample event data typed in the trigger's panel (``{}`` when none or not an object)."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class ApiEventTriggerSettings(ApiEventSettings):
    sample = fields.String(
        load_default="",
        metadata={
            "label": "Sample event data",
            "widget": "textarea",
            "help": "What the integration sends with the event, as JSON, for previews and tests"
            ' until a real event arrives, e.g. {"items": [{"name": "Mug", "price": 12}]}',
        },
    )

    @validates("sample")
    def _sample_is_an_object(self, value: str, **kwargs: Any) -> None:
        if not value or not value.strip():
            return
        if len(value) > MAX_SAMPLE_CHARS:
            raise ValidationError(f"keep the sample event data under {MAX_SAMPLE_CHARS:,} characters")
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise ValidationError(
                f"the sample event data is not valid JSON: {exc.msg} (line {exc.lineno})"
            ) from None
        if not isinstance(data, dict):
            raise ValidationError('the sample event data must be a JSON object, e.g. {"items": []}')


class ApiEventArrived:
    """What the "API event" trigger and criterion share: the event, its name asked
    for, and the words for it."""

    category = "Integrations"
    event_types = ("api.event",)

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When the API event {settings.get('name', '?')!r} arrives"

    def arrived(self, event: Any, settings: dict[str, Any]) -> bool:
        """Is ``event`` the integration's event of the name asked for?"""
        return event.data.get("name") == settings["name"]


class ApiEventTrigger(ApiEventArrived, Trigger):
    name = "api_event"
    label = "API event"
    description = "When an integration sends the named event for the person."
    settings_schema = ApiEventTriggerSettings

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return self.arrived(event, settings)

    def sample_event(self, settings: dict[str, Any]) -> dict[str, Any]:
        """An integration's event has no fixed shape: the sample is what the marketer
        typed (the designer prefers the last event really received)."""
        sample = parse_sample(settings.get("sample"))
        return {**sample, "name": settings.get("name") or sample.get("name") or ""}


class ApiEventCriterion(ApiEventArrived, SuccessCriterion):
    name = "api_event"
    label = "API event arrived"
    description = "Success when an integration sends the named event for the person."
    settings_schema = ApiEventSettings

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        return self.arrived(event, settings)


class ManualTrigger(Trigger):
    name = "manual"
    label = "Added by hand"
    category = "Integrations"
    description = "Nobody enters by themselves: people are enrolled from the CLI, the API or the admin."

    def describe(self, settings: dict[str, Any]) -> str:
        return "People are added by hand (CLI, API or admin)"

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return False


@hookimpl
def superflow_register_triggers(register):
    register(ApiEventTrigger())
    register(ManualTrigger())


@hookimpl
def superflow_register_success_criteria(register):
    register(ApiEventCriterion())
