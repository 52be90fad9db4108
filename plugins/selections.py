"""Selections: the "added to selection" trigger, the membership filter, and the
steps that add a person to a selection or remove them from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint
from marshmallow import Schema
from marshmallow import fields

from superflow import Filter
from superflow import Services
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import SuccessCriterion
from superflow import Trigger
from superflow import hookimpl


class SelectionSettings(Schema):
    selection = fields.String(
        required=True,
        metadata={
            "label": "Selection",
            "help": "The selection's id in the CRM",
            "widget": "crm_selection",
            "choices_from": "selections",
        },
    )


def is_member(person: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Is the person a member of the selection the settings name?"""
    return str(settings["selection"]) in [str(found) for found in person.get("selections") or []]


class AddedToSelection(Trigger):
    name = "added_to_selection"
    label = "Added to selection"
    category = "Selections"
    description = "When a person is added to the selection, by a flow or a colleague."
    event_types = ("selection.member_added",)
    settings_schema = SelectionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When a person is added to selection {settings.get('selection', '?')}"

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return str(event.data.get("selection_id")) == str(settings["selection"])


class AddedToSelectionCriterion(SuccessCriterion):
    """Success when the person is in the selection: added while in the flow (by the
    flow or a colleague), or already a member before a step."""

    name = "added_to_selection"
    label = "Added to selection"
    category = "Selections"
    description = "Success when the person is added to the selection (or already is a member)."
    event_types = ("selection.member_added",)
    settings_schema = SelectionSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        trigger = flow.doc.get("trigger") or {}
        if trigger.get("type") == "added_to_selection" and str(
            (trigger.get("settings") or {}).get("selection")
        ) == str(settings.get("selection")):
            return [
                "selection: the trigger enrols the members of this selection, so everyone would"
                " succeed at once; choose another selection"
            ]
        return []

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When the person is in selection {settings.get('selection', '?')}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        return str(event.data.get("selection_id")) == str(settings["selection"])

    def holds(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return is_member(person, settings)


class InSelection(Filter):
    name = "in_selection"
    label = "Member of selection"
    category = "Selections"
    description = "The person is a member of the selection."
    settings_schema = SelectionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Member of selection {settings.get('selection', '?')}"

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return is_member(person, settings)


class _SelectionStep(StepType):
    category = "Selections"
    settings_schema = SelectionSettings
    adding = True

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        by_selection: dict[str, list[StepContext]] = {}
        for ctx in ctxs:
            by_selection.setdefault(str(ctx.settings["selection"]), []).append(ctx)
        for selection, group in by_selection.items():
            people = [c.participant.person_id for c in group]
            key = f"{group[0].idempotency_key}:{len(people)}:{people[0]}"
            if self.adding:
                group[0].crm.add_to_selection(selection, people, idempotency_key=key)
            else:
                group[0].crm.remove_from_selection(selection, people, idempotency_key=key)
        verb = "added to" if self.adding else "removed from"
        return [StepResult.advance(f"{verb} selection {c.settings['selection']}") for c in ctxs]


class AddToSelection(_SelectionStep):
    name = "add_to_selection"
    link_action = True
    label = "Add to selection"
    description = "Add the person to a selection in the CRM."

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Add to selection {settings.get('selection', '?')}"


class RemoveFromSelection(_SelectionStep):
    name = "remove_from_selection"
    label = "Remove from selection"
    description = "Remove the person from a selection in the CRM."
    adding = False

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Remove from selection {settings.get('selection', '?')}"


@hookimpl
def superflow_register_triggers(register):
    register(AddedToSelection())


@hookimpl
def superflow_register_filters(register):
    register(InSelection())


@hookimpl
def superflow_register_success_criteria(register):
    register(AddedToSelectionCriterion())


@hookimpl
def superflow_register_step_types(register):
    register(AddToSelection())
    register(RemoveFromSelection())


#: The designer's selection picker (the ``crm_selection`` widget), served from this
#: plugin's own static folder.
designer_assets = Blueprint(
    "selections_designer",
    __name__,
    static_folder=str(Path(__file__).parent / "static" / "selections"),
    static_url_path="/plugins/selections/static",
)


@hookimpl
def superflow_register_routes(register):
    register(designer_assets)


@hookimpl
def superflow_register_designer_scripts(register):
    register("/plugins/selections/static/selections.js", module=True)
