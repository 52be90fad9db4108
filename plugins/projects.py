"""Projects: the steps that add a person to a project or remove them from it, the
"added to project" trigger and success criterion, and the membership filter."""

from __future__ import annotations

import hashlib
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import CrmError
from superflow import Filter
from superflow import Services
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import SuccessCriterion
from superflow import Trigger
from superflow import hookimpl


class ProjectSettings(Schema):
    project = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Project", "help": "The CRM project's id", "choices_from": "projects"},
    )


class AddToProjectSettings(ProjectSettings):
    member_type = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Member type",
            "help": "The CRM's project member type, e.g. Participant; empty: none",
        },
    )
    status = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Status", "help": "The member's status in the project, e.g. Invited; empty: none"},
    )


class AddedToProjectSettings(ProjectSettings):
    member_type = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Member type", "help": "Only members added with this type; empty: any"},
    )


def batch_key(ctxs: list[StepContext]) -> str:
    """One idempotency key for a CRM call made for several participants: the same
    participants at the same step give the same key, on every run."""
    keys = sorted(ctx.idempotency_key for ctx in ctxs)
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return f"{keys[0]}:{len(keys)}:{digest}"


def is_member(person: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Is the person a member of the project the settings name?"""
    return str(settings["project"]) in [str(found) for found in person.get("projects") or []]


class _ProjectStep(StepType):
    category = "Projects"
    adding = True

    def describe(self, settings: dict[str, Any]) -> str:
        verb = "Add to" if self.adding else "Remove from"
        return f"{verb} project {settings.get('project', '?')}"

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        crm = ctxs[0].crm
        call = "add_to_project" if self.adding else "remove_from_project"
        if getattr(crm, call, None) is None:
            reason = f"the CRM backend {crm.name!r} has no projects"
            return [StepResult.exit(reason) for _ in ctxs]
        s = ctxs[0].settings
        people = [ctx.participant.person_id for ctx in ctxs]
        try:
            if self.adding:
                crm.add_to_project(
                    s["project"],
                    people,
                    member_type=s["member_type"],
                    status=s["status"],
                    idempotency_key=batch_key(ctxs),
                )
            else:
                crm.remove_from_project(s["project"], people, idempotency_key=batch_key(ctxs))
        except CrmError as exc:
            verb = "added to" if self.adding else "removed from"
            return [StepResult.exit(f"not {verb} project {s['project']}: {exc}") for _ in ctxs]
        if self.adding:
            as_what = f" as {s['member_type']}" if s["member_type"] else ""
            outcome = f"added to project {s['project']}{as_what}"
            return [StepResult.advance(outcome, counters={"projects.added": 1}) for _ in ctxs]
        outcome = f"removed from project {s['project']}"
        return [StepResult.advance(outcome, counters={"projects.removed": 1}) for _ in ctxs]


class AddToProject(_ProjectStep):
    name = "add_to_project"
    link_action = True
    label = "Add to project"
    description = "Make the person a member of a CRM project, with a member type and status."
    settings_schema = AddToProjectSettings


class RemoveFromProject(_ProjectStep):
    name = "remove_from_project"
    label = "Remove from project"
    description = "Take the person out of a CRM project."
    settings_schema = ProjectSettings
    adding = False


class AddedToProject(Trigger):
    name = "added_to_project"
    label = "Added to project"
    category = "Projects"
    description = "When a person is added to a project, by a flow or by a colleague."
    event_types = ("project.member_added",)
    settings_schema = AddedToProjectSettings

    def describe(self, settings: dict[str, Any]) -> str:
        as_what = f" as {settings['member_type']}" if settings.get("member_type") else ""
        return f"When a person is added to project {settings.get('project', '?')}{as_what}"

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        if str(event.data.get("project_id")) != str(settings["project"]):
            return False
        wanted = settings.get("member_type")
        return not wanted or str(event.data.get("member_type") or "").casefold() == wanted.casefold()


class InProject(Filter):
    name = "in_project"
    label = "Member of project"
    category = "Projects"
    description = "The person is a member of a project."
    settings_schema = ProjectSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Member of project {settings.get('project', '?')}"

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return is_member(person, settings)


class AddedToProjectCriterion(SuccessCriterion):
    name = "added_to_project"
    label = "Added to project"
    category = "Projects"
    description = "Success when the person is a member of the project, whoever added them."
    event_types = ("project.member_added",)
    settings_schema = ProjectSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When the person is in project {settings.get('project', '?')}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        return str(event.data.get("project_id")) == str(settings["project"])

    def holds(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return is_member(person, settings)


@hookimpl
def superflow_register_step_types(register):
    register(AddToProject())
    register(RemoveFromProject())


@hookimpl
def superflow_register_triggers(register):
    register(AddedToProject())


@hookimpl
def superflow_register_filters(register):
    register(InProject())


@hookimpl
def superflow_register_success_criteria(register):
    register(AddedToProjectCriterion())
