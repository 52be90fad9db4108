"""Sales: the "create sale" step, and "sale created" as a trigger and as a success
criterion (whoever created the sale: the flow or a colleague in the CRM)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
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

OWNER_RULES = ("our_contact", "our_service_contact", "associate", "unassigned")


class CreateSaleSettings(Schema):
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "label": "Title",
            "help": "The sale's title, e.g. 'Renewal {{ company.name }}'",
            "merge_tags": True,
        },
    )
    sale_type = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Sale type", "help": "The CRM's sale type, e.g. 'New business'; empty: none"},
    )
    amount = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0),
        metadata={"label": "Amount", "help": "The expected amount (0 or more)"},
    )
    stage = fields.String(
        load_default="open",
        validate=validate.Length(min=1),
        metadata={"label": "Stage", "help": "The CRM's stage the sale starts in, e.g. open or proposal"},
    )
    probability = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=100),
        metadata={"label": "Probability (%)", "help": "0 to 100; empty: the CRM's default"},
    )
    expected_in_days = fields.Integer(
        load_default=30,
        validate=validate.Range(min=0, max=3650),
        metadata={
            "label": "Expected in (days)",
            "help": "The expected date: this many days after the step runs, in the flow's time zone",
        },
    )
    owner = owner_field(OWNER_RULES, default="our_contact", help="The salesperson the sale belongs to")


def expected_date(now: float, days: int, timezone: str) -> str:
    """The date ``days`` after ``now`` in ``timezone``, as ``YYYY-MM-DD``."""
    today = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(timezone)).date()
    return (today + dt.timedelta(days=days)).isoformat()


def _amount(value: Any) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value else "0"


class CreateSale(StepType):
    name = "create_sale"
    label = "Create sale"
    category = "Sales"
    description = "Register a sale for the person, owned by their company's contact or a named associate."
    settings_schema = CreateSaleSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return owner_problems(settings.get("owner"), "our_contact")

    def describe(self, settings: dict[str, Any]) -> str:
        amount = _amount(settings.get("amount", 0))
        owner = describe_owner(settings.get("owner"), "our_contact")
        return f"Create sale {settings.get('title', '?')!r} of {amount}, owned by {owner}"

    def execute(self, ctx: StepContext) -> StepResult:
        s = ctx.settings
        create = getattr(ctx.crm, "create_sale", None)
        if create is None:
            return StepResult.exit(f"sale not created: the CRM backend {ctx.crm.name!r} cannot create sales")
        owner = resolve_owner(s["owner"], ctx.person)
        if owner.exit_reason:
            return StepResult.exit(f"sale not created: {owner.exit_reason}")
        try:
            title = render(s["title"], ctx.merge_scope())
            sale = create(
                ctx.participant.person_id,
                title,
                s["amount"],
                sale_type=s["sale_type"],
                stage=s["stage"],
                probability=s["probability"],
                expected_date=expected_date(ctx.now, s["expected_in_days"], ctx.flow.doc["timezone"]),
                owner=owner.associate,
                idempotency_key=ctx.idempotency_key,
            )
        except (CrmError, MergeError) as exc:
            return StepResult.exit(f"sale not created: {exc}")
        who = owner.who(ctx.services)
        return StepResult.advance(
            f"sale {sale['id']} {sale['title']!r} of {_amount(sale['amount'])} created, "
            f"owned by {who} ({owner.how})",
            counters={"sales.created": 1, "sales.amount": round(sale["amount"] or 0)},
        )


class SaleFilterSettings(Schema):
    sale_type = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Sale type", "help": "Only sales of this type; empty: any type"},
    )
    min_amount = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={"label": "Minimum amount", "help": "Only sales of at least this amount; empty: any"},
    )


class SaleCreated(RecordCreated):
    """A sale registered for the person, of the type and amount asked for."""

    category = "Sales"
    event_types = ("sale.created",)
    settings_schema = SaleFilterSettings

    def record_matches(self, record: dict[str, Any], settings: dict[str, Any]) -> bool:
        """Does a ``sale.created`` event's sale pass the optional type and amount filters?"""
        wanted = settings.get("sale_type")
        if wanted and str(record.get("sale_type") or "").casefold() != wanted.casefold():
            return False
        minimum = settings.get("min_amount")
        if minimum is not None:
            try:
                return float(record.get("amount") or 0) >= minimum
            except (TypeError, ValueError):
                return False
        return True

    def describe_record(self, settings: dict[str, Any]) -> str:
        parts = []
        if settings.get("sale_type"):
            parts.append(f"of type {settings['sale_type']!r}")
        if settings.get("min_amount") is not None:
            parts.append(f"of at least {_amount(settings['min_amount'])}")
        return "a sale " + " and ".join(parts) if parts else "a sale"


class SaleCreatedTrigger(SaleCreated, RecordCreatedTrigger):
    name = "sale_created"
    label = "Sale created"
    description = "When a sale is registered for a person, by a flow or by a colleague."


class SaleCreatedCriterion(SaleCreated, RecordCreatedCriterion):
    name = "sale_created"
    label = "Sale created"
    description = "Success when a sale is registered for the person, by the flow or by a colleague."


@hookimpl
def superflow_register_step_types(register):
    register(CreateSale())


@hookimpl
def superflow_register_triggers(register):
    register(SaleCreatedTrigger())


@hookimpl
def superflow_register_success_criteria(register):
    register(SaleCreatedCriterion())
