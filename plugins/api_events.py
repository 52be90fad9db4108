"""Events from outside: the "API event" trigger and success criterion, and the
"manual" trigger for flows that people are only ever added to by hand."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from superflow import hookimpl
from superflow.components import SuccessCriterion, Trigger


class ApiEventSettings(Schema):
    name = fields.String(
        required=True,
        metadata={"label": "Event name", "help": "The name integrations send, e.g. webinar.attended"},
    )


class ApiEventTrigger(Trigger):
    name = "api_event"
    label = "API event"
    category = "Integrations"
    description = "When an integration sends the named event for the person."
    event_types = ("api.event",)
    settings_schema = ApiEventSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When the API event {settings.get('name', '?')!r} arrives"

    def matches(self, event: Any, settings: dict[str, Any]) -> bool:
        return event.data.get("name") == settings["name"]


class ApiEventCriterion(SuccessCriterion):
    name = "api_event"
    label = "API event arrived"
    category = "Integrations"
    description = "Success when an integration sends the named event for the person."
    event_types = ("api.event",)
    settings_schema = ApiEventSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When the API event {settings.get('name', '?')!r} arrives"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any) -> bool:
        return event.data.get("name") == settings["name"]


class ManualTrigger(Trigger):
    name = "manual"
    label = "Added by hand"
    category = "Integrations"
    description = "Nobody enters by themselves: people are enrolled from the CLI, the API or the admin."

    def describe(self, settings: dict[str, Any]) -> str:
        return "People are added by hand (CLI, API or admin)"

    def matches(self, event: Any, settings: dict[str, Any]) -> bool:
        return False


@hookimpl
def superflow_register_triggers(register):
    register(ApiEventTrigger())
    register(ManualTrigger())


@hookimpl
def superflow_register_success_criteria(register):
    register(ApiEventCriterion())
