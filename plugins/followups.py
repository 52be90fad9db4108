"""Follow-ups: the "create follow-up" step (an appointment, meeting, phone call or
task for a colleague, due after a while or at the first free time in their calendar),
and "follow-up created" as a success criterion."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import CrmError
from superflow import MergeError
from superflow import RecordCreatedCriterion
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import associate_name
from superflow import describe_owner
from superflow import hookimpl
from superflow import owner_field
from superflow import owner_problems
from superflow import render
from superflow import resolve_owner

TYPES = {"appointment": "Appointment", "meeting": "Meeting", "phone_call": "Phone call", "task": "Task"}
DUE = {"after": "After a while", "first_free_slot": "First free time in the owner's calendar"}
UNITS = {"minutes": "minutes", "hours": "hours", "days": "days"}
OWNER_RULES = ("our_contact", "our_service_contact", "associate")
SLOT_MINUTES = 15
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"

Interval = tuple[dt.datetime, dt.datetime]


class WorkingHoursSchema(Schema):
    days = fields.List(
        fields.Integer(validate=validate.Range(0, 6)),
        load_default=lambda: [0, 1, 2, 3, 4],
        validate=validate.Length(min=1),
        metadata={"label": "Days", "help": "0 = Monday … 6 = Sunday"},
    )
    start = fields.String(
        load_default="08:00",
        validate=validate.Regexp(CLOCK, error="a time such as 08:00"),
        metadata={"label": "From", "help": "HH:MM, in the flow's time zone"},
    )
    end = fields.String(
        load_default="16:00",
        validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", error="a time such as 16:00"),
        metadata={"label": "To", "help": "HH:MM, in the flow's time zone"},
    )


def _default_hours() -> dict[str, Any]:
    return {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "16:00"}


class CreateFollowUpSettings(Schema):
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": "Title", "help": "e.g. 'Call {{ person.full_name }}'", "merge_tags": True},
    )
    type = fields.String(
        load_default="task",
        validate=validate.OneOf(tuple(TYPES)),
        metadata={"label": "Type", "help": "What kind of follow-up", "choices_labels": TYPES},
    )
    description = fields.String(
        load_default="",
        metadata={"label": "Description", "help": "What the colleague should do", "merge_tags": True},
    )
    due = fields.String(
        load_default="after",
        validate=validate.OneOf(tuple(DUE)),
        metadata={
            "label": "When",
            "help": "A fixed time from now, or the owner's first free time",
            "choices_labels": DUE,
        },
    )
    due_amount = fields.Integer(
        load_default=1,
        validate=validate.Range(min=0),
        metadata={"label": "Due in", "help": "With 'after a while': how long after the step runs"},
    )
    due_unit = fields.String(
        load_default="days",
        validate=validate.OneOf(tuple(UNITS)),
        metadata={"label": "Unit", "help": "Minutes, hours or days", "choices_labels": UNITS},
    )
    duration_minutes = fields.Integer(
        load_default=30,
        validate=validate.Range(min=1, max=24 * 60),
        metadata={"label": "Duration (minutes)", "help": "How long it takes in the calendar"},
    )
    working_hours = fields.Nested(
        WorkingHoursSchema,
        load_default=_default_hours,
        metadata={
            "label": "Working hours",
            "help": "With 'first free time': the days and hours to look in, in the flow's time zone",
        },
    )
    search_days = fields.Integer(
        load_default=14,
        validate=validate.Range(min=1, max=90),
        metadata={"label": "Look ahead (days)", "help": "With 'first free time': how far ahead to look"},
    )
    owner = owner_field(OWNER_RULES, default="our_contact", help="The colleague who follows up")


def _clock(text: str) -> dt.timedelta:
    hours, minutes = text.split(":")
    return dt.timedelta(hours=int(hours), minutes=int(minutes))


def _quarter_up(moment: dt.datetime) -> dt.datetime:
    """The moment rounded up to the next whole quarter of an hour."""
    base = moment.replace(minute=0, second=0, microsecond=0)
    quarters = -(-(moment - base) // dt.timedelta(minutes=SLOT_MINUTES))
    return base + quarters * dt.timedelta(minutes=SLOT_MINUTES)


def first_free_slot(
    now: dt.datetime, busy: list[Interval], minutes: int, hours: dict[str, Any], days_ahead: int
) -> dt.datetime | None:
    """The first start, on a quarter hour at or after ``now``, of ``minutes`` inside the
    working ``hours`` (in ``now``'s time zone) that overlaps none of the ``busy``
    intervals; ``None`` when there is none within ``days_ahead`` days."""
    length = dt.timedelta(minutes=minutes)
    busy = sorted(busy)
    tz = now.tzinfo
    for offset in range(days_ahead + 1):
        day = now.date() + dt.timedelta(days=offset)
        if day.weekday() not in hours["days"]:
            continue
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        opens, closes = midnight + _clock(hours["start"]), midnight + _clock(hours["end"])
        candidate = max(opens, _quarter_up(now))
        for start, end in busy:
            if end <= candidate:
                continue
            if start >= candidate + length:
                break
            candidate = _quarter_up(end)
        if candidate + length <= closes:
            return candidate
    return None


class CreateFollowUp(StepType):
    name = "create_follow_up"
    link_action = True
    label = "Create follow-up"
    category = "Follow-ups"
    description = "Give a colleague an appointment, meeting, phone call or task about the person."
    settings_schema = CreateFollowUpSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        problems = owner_problems(settings.get("owner"), "our_contact")
        hours = {**_default_hours(), **(settings.get("working_hours") or {})}
        if _clock(hours["end"]) <= _clock(hours["start"]):
            problems.append(f"working_hours.end: {hours['end']} is not after {hours['start']}")
        elif settings.get("due") == "first_free_slot":
            length = dt.timedelta(minutes=settings.get("duration_minutes", 30))
            if _clock(hours["end"]) - _clock(hours["start"]) < length:
                problems.append("duration_minutes: longer than the working day")
        return problems

    def describe(self, settings: dict[str, Any]) -> str:
        kind = TYPES.get(settings.get("type", "task"), "Follow-up")
        owner = describe_owner(settings.get("owner"), "our_contact")
        if settings.get("due") == "first_free_slot":
            when = "at the first free time in their calendar"
        else:
            when = f"due in {settings.get('due_amount', 1)} {settings.get('due_unit', 'days')}"
        return f"{kind} {settings.get('title', '?')!r} for {owner}, {when}"

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        calendars: dict[str, list[Interval]] = {}
        return [self._one(ctx, calendars) for ctx in ctxs]

    def _one(self, ctx: StepContext, calendars: dict[str, list[Interval]]) -> StepResult:
        """One participant; ``calendars`` keeps each owner's busy times across the batch,
        so two participants of one batch do not get the same free time."""
        s = ctx.settings
        create = getattr(ctx.crm, "create_follow_up", None)
        if create is None:
            return StepResult.exit(
                f"follow-up not created: the CRM backend {ctx.crm.name!r} cannot create follow-ups"
            )
        owner = resolve_owner(s["owner"], ctx.person)
        if owner.exit_reason:
            return StepResult.exit(f"follow-up not created: {owner.exit_reason}")
        tz = zoneinfo.ZoneInfo(ctx.flow.doc["timezone"])
        now = dt.datetime.fromtimestamp(ctx.now, tz)
        length = dt.timedelta(minutes=s["duration_minutes"])
        try:
            if s["due"] == "after":
                start = now.replace(second=0, microsecond=0) + dt.timedelta(
                    **{s["due_unit"]: s["due_amount"]}
                )
            else:
                busy = self._calendar(ctx, owner.associate, now, calendars)
                found = first_free_slot(
                    now, busy, s["duration_minutes"], s["working_hours"], s["search_days"]
                )
                if found is None:
                    where = ""
                    if owner.associate:
                        where = f" in {associate_name(ctx.services, owner.associate)}'s calendar"
                    return StepResult.exit(
                        f"follow-up not created: no free {s['duration_minutes']} minutes{where}"
                        f" within working hours in the next {s['search_days']} days"
                    )
                start = found
            scope = ctx.merge_scope()
            follow_up = create(
                ctx.participant.person_id,
                render(s["title"], scope),
                s["type"],
                starts_at=start.isoformat(),
                ends_at=(start + length).isoformat(),
                owner=owner.associate,
                description=render(s["description"], scope),
                idempotency_key=ctx.idempotency_key,
            )
        except (CrmError, MergeError) as exc:
            return StepResult.exit(f"follow-up not created: {exc}")
        starts = dt.datetime.fromisoformat(follow_up["starts_at"])
        if owner.associate is not None and follow_up.get("ends_at"):
            interval = (starts, dt.datetime.fromisoformat(follow_up["ends_at"]))
            calendars.setdefault(owner.associate, []).append(interval)
        who = owner.who(ctx.services)
        return StepResult.advance(
            f"{TYPES.get(follow_up['type'], follow_up['type']).lower()} {follow_up['id']}"
            f" {follow_up['title']!r} at {starts.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key}),"
            f" for {who} ({owner.how})",
            counters={"follow_ups.created": 1},
        )

    def _calendar(
        self, ctx: StepContext, associate: str | None, now: dt.datetime, calendars: dict[str, list[Interval]]
    ) -> list[Interval]:
        """The owner's busy times from now to the end of the search (none for nobody)."""
        if associate is None:
            return []
        if associate not in calendars:
            list_follow_ups = getattr(ctx.crm, "list_follow_ups", None)
            if list_follow_ups is None:
                raise CrmError(f"the CRM backend {ctx.crm.name!r} cannot read an associate's calendar")
            until = now + dt.timedelta(days=ctx.settings["search_days"] + 1)
            calendars[associate] = [
                (dt.datetime.fromisoformat(f["starts_at"]), dt.datetime.fromisoformat(f["ends_at"]))
                for f in list_follow_ups(associate, now.isoformat(), until.isoformat())
            ]
        return calendars[associate]


class FollowUpSettings(Schema):
    type = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(tuple(TYPES)),
        metadata={
            "label": "Type",
            "help": "Only follow-ups of this type; empty: any",
            "choices_labels": TYPES,
        },
    )


class FollowUpCreatedCriterion(RecordCreatedCriterion):
    name = "follow_up_created"
    label = "Follow-up created"
    category = "Follow-ups"
    description = "Success when a follow-up is registered for the person, by the flow or by a colleague."
    event_types = ("follow_up.created",)
    settings_schema = FollowUpSettings

    def record_matches(self, record: dict[str, Any], settings: dict[str, Any]) -> bool:
        return not settings.get("type") or record.get("type") == settings["type"]

    def describe_record(self, settings: dict[str, Any]) -> str:
        return f"a {TYPES.get(settings.get('type') or '', 'follow-up').lower()}"


@hookimpl
def superflow_register_step_types(register):
    register(CreateFollowUp())


@hookimpl
def superflow_register_success_criteria(register):
    register(FollowUpCreatedCriterion())
