"""Customer-service requests: the "create request" step, and "request created" as a
trigger and as a success criterion."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import CrmError
from superflow import MergeError
from superflow import RecordCreated
from superflow import RecordCreatedCriterion
from superflow import RecordCreatedTrigger
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import describe_owner
from superflow import hookimpl
from superflow import owner_field
from superflow import owner_problems
from superflow import render
from superflow import resolve_owner

STATUSES = {
    "open": "Open",
    "in_progress": "In progress",
    "waiting": "Waiting for the customer",
    "closed": "Closed",
}
PRIORITIES = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
OWNER_RULES = ("by_category", "associate", "our_service_contact", "our_contact", "unassigned")


class CreateRequestSettings(Schema):
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": "Title", "help": "e.g. 'Onboarding {{ company.name }}'", "merge_tags": True},
    )
    category = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1),
        metadata={
            "label": "Category",
            "help": "The CRM's request category, by name; empty: none",
            "choices_from": "request_categories",
        },
    )
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(tuple(STATUSES)),
        metadata={"label": "Status", "help": "The status the request starts in", "choices_labels": STATUSES},
    )
    priority = fields.String(
        load_default="normal",
        validate=validate.OneOf(tuple(PRIORITIES)),
        metadata={"label": "Priority", "help": "How urgent it is", "choices_labels": PRIORITIES},
    )
    owner = owner_field(
        OWNER_RULES,
        default="by_category",
        help="Who handles the request: the category's default owner, a named associate, or nobody yet",
    )
    first_message = fields.String(
        load_default="",
        metadata={"label": "First message", "help": "The request's opening message", "merge_tags": True},
    )


class CreateRequest(StepType):
    name = "create_request"
    link_action = True
    label = "Create request"
    category = "Customer service"
    description = "Open a customer-service request for the person."
    settings_schema = CreateRequestSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        owner = settings.get("owner") if isinstance(settings.get("owner"), dict) else {}
        if owner.get("rule", "by_category") == "by_category" and not settings.get("category"):
            return ["category: choose a category (the owner is chosen by category)"]
        return owner_problems(owner, "by_category")

    def describe(self, settings: dict[str, Any]) -> str:
        category = f" in {settings['category']}" if settings.get("category") else ""
        owner = describe_owner(settings.get("owner"), "by_category")
        return f"Create request {settings.get('title', '?')!r}{category}, for {owner}"

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        crm = ctxs[0].crm
        if getattr(crm, "create_request", None) is None:
            reason = f"request not created: the CRM backend {crm.name!r} cannot create requests"
            return [StepResult.exit(reason) for _ in ctxs]
        settings = ctxs[0].settings
        category_owner = None
        if settings["owner"]["rule"] == "by_category" and settings["category"]:
            category_owner = self._category_owner(crm, settings["category"])
        return [self._one(ctx, category_owner) for ctx in ctxs]

    def _category_owner(self, crm: Any, category: str) -> str | None:
        """The default owner of the category, by name (``None`` if the CRM has no
        categories, no such category, or it has no default owner)."""
        list_categories = getattr(crm, "list_request_categories", None)
        if list_categories is None:
            return None
        for found in list_categories():
            if found["name"].casefold() == category.casefold():
                return found.get("default_owner")
        return None

    def _one(self, ctx: StepContext, category_owner: str | None) -> StepResult:
        s = ctx.settings
        owner = resolve_owner(s["owner"], ctx.person, category=s["category"], category_owner=category_owner)
        if owner.exit_reason:
            return StepResult.exit(f"request not created: {owner.exit_reason}")
        try:
            scope = ctx.merge_scope()
            request = ctx.crm.create_request(
                ctx.participant.person_id,
                render(s["title"], scope),
                category=s["category"],
                status=s["status"],
                priority=s["priority"],
                owner=owner.associate,
                first_message=render(s["first_message"], scope),
                idempotency_key=ctx.idempotency_key,
            )
        except (CrmError, MergeError) as exc:
            return StepResult.exit(f"request not created: {exc}")
        who = owner.who(ctx.services)
        return StepResult.advance(
            f"request {request['id']} {request['title']!r} created, assigned to {who} ({owner.how})",
            counters={"requests.created": 1},
        )


class RequestFilterSettings(Schema):
    category = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Category",
            "help": "Only requests of this category; empty: any",
            "choices_from": "request_categories",
        },
    )
    priority = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(tuple(PRIORITIES)),
        metadata={
            "label": "Priority",
            "help": "Only requests of this priority; empty: any",
            "choices_labels": PRIORITIES,
        },
    )


class RequestCreated(RecordCreated):
    """A request opened for the person, of the category and priority asked for."""

    category = "Customer service"
    event_types = ("request.created",)
    settings_schema = RequestFilterSettings

    def record_matches(self, record: dict[str, Any], settings: dict[str, Any]) -> bool:
        category = settings.get("category")
        if category and str(record.get("category") or "").casefold() != category.casefold():
            return False
        return not settings.get("priority") or record.get("priority") == settings["priority"]

    def describe_record(self, settings: dict[str, Any]) -> str:
        parts = []
        if settings.get("priority"):
            parts.append(f"{settings['priority']} priority")
        if settings.get("category"):
            parts.append(f"in {settings['category']}")
        return "a request" + (" (" + ", ".join(parts) + ")" if parts else "")


class RequestCreatedTrigger(RequestCreated, RecordCreatedTrigger):
    name = "request_created"
    label = "Request created"
    description = "When a customer-service request is opened for a person, by a flow or by a colleague."


class RequestCreatedCriterion(RequestCreated, RecordCreatedCriterion):
    name = "request_created"
    label = "Request created"
    description = "Success when a request is opened for the person, by the flow or by a colleague."


@hookimpl
def superflow_register_step_types(register):
    register(CreateRequest())


@hookimpl
def superflow_register_triggers(register):
    register(RequestCreatedTrigger())


@hookimpl
def superflow_register_success_criteria(register):
    register(RequestCreatedCriterion())
