"""The marshmallow schemas of the JSON API's requests and answers; the OpenAPI
document is generated from them (the flow document itself is described by
:class:`superflow.flow.FlowSchema`, the schema saving uses)."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from superflow import people
from superflow.flow import STATUSES
from superflow.store import FINAL_STATUSES

PARTICIPANT_STATUSES = ("active", *FINAL_STATUSES)
MAX_BATCH = 1000


class _Strict(Schema):
    class Meta:
        ordered = True


# -- flows ------------------------------------------------------------------
class FlowQuerySchema(_Strict):
    q = fields.String(
        load_default="", validate=validate.Length(max=200), metadata={"description": "Part of the name."}
    )
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    trigger = fields.String(load_default=None, metadata={"description": "A trigger type, e.g. api_event."})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class StartQuerySchema(_Strict):
    earlier_today = fields.Boolean(
        load_default=False,
        metadata={
            "description": "For a trigger that looks for persons due at a time of day (a date reached):"
            " also enrol those due earlier today, before the start."
        },
    )


class FlowSummarySchema(_Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    version = fields.Integer(required=True)
    trigger = fields.String(required=True)
    updated_at = fields.Float(required=True)
    stats = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    success_rate = fields.Float(allow_none=True, required=True)


class FlowListSchema(_Strict):
    flows = fields.List(fields.Nested(FlowSummarySchema), required=True)
    total = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class FlowOutSchema(_Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    version = fields.Integer(required=True)
    created_at = fields.Float(required=True)
    updated_at = fields.Float(required=True)
    created_by = fields.String(required=True)
    updated_by = fields.String(required=True)
    etag = fields.String(required=True, metadata={"description": "Send it back in If-Match to update."})
    document = fields.Dict(required=True, metadata={"description": "The flow document (see Flow)."})


class VersionsSchema(_Strict):
    flow_id = fields.String(required=True)
    current = fields.Integer(required=True)
    versions = fields.List(fields.Integer(), required=True)


class ReadinessSchema(_Strict):
    ready = fields.Boolean(required=True)
    problems = fields.List(fields.String(), required=True, metadata={"description": "What is missing."})


class EndedSchema(FlowOutSchema):
    cancelled = fields.Integer(required=True, metadata={"description": "Participants cancelled."})


# -- participants -----------------------------------------------------------
class ParticipantQuerySchema(_Strict):
    status = fields.String(load_default=None, validate=validate.OneOf(PARTICIPANT_STATUSES))
    step = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "Active participants at this step."},
    )
    sort = fields.String(
        load_default="enrolled",
        validate=validate.OneOf(("enrolled", "status", "step")),
        metadata={
            "description": "enrolled: by enrolment; status: active, completed, succeeded, exited, "
            "cancelled; step: active ones by their step in flow order, then finished ones by status."
        },
    )
    order = fields.String(
        load_default="desc",
        validate=validate.OneOf(("asc", "desc")),
        metadata={"description": "desc reverses the whole order (newest first for enrolled)."},
    )
    offset = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**53),
        metadata={"description": "Rows of this filtered, sorted list to skip."},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class HistoryEntrySchema(_Strict):
    at = fields.Float(required=True)
    step = fields.String(allow_none=True, required=True)
    kind = fields.String(required=True)
    note = fields.String(required=True)


class ParticipantSchema(_Strict):
    id = fields.String(required=True)
    flow_id = fields.String(required=True)
    person_id = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    step = fields.String(allow_none=True, required=True)
    enrolled = fields.Float(required=True)
    updated = fields.Float(required=True)
    source = fields.String(required=True)
    wait = fields.Dict(allow_none=True, required=True)
    reason = fields.String(required=True)
    last_sending = fields.Dict(allow_none=True, required=True)
    succeeded = fields.Float(allow_none=True, required=True)
    actions = fields.List(fields.String(), required=True)


class ParticipantDetailSchema(ParticipantSchema):
    history = fields.List(fields.Nested(HistoryEntrySchema), required=True)


class ParticipantListSchema(_Strict):
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)
    total = fields.Integer(
        required=True, metadata={"description": "How many participants match the filters."}
    )
    offset = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    next_offset = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Where the next page starts; null at the end."},
    )


class EnrolSchema(_Strict):
    person_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(max=10000),
    )
    selection_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40))

    @validates_schema
    def _someone(self, data: dict, **kwargs: object) -> None:
        if not data.get("person_ids") and not data.get("selection_id"):
            raise ValidationError("give person_ids or a selection_id", "person_ids")


class QueuedSchema(_Strict):
    queued = fields.Integer(required=True)
    message = fields.String(required=True)


class MoveSchema(_Strict):
    step_id = fields.String(required=True, validate=validate.Length(min=1, max=40))


# -- events -----------------------------------------------------------------
class EventInSchema(_Strict):
    type = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The event's name, as the 'API event' trigger and criterion name it."},
    )
    person_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    email = fields.Email(load_default=None)
    data = fields.Dict(keys=fields.String(), load_default=dict)
    id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=100), metadata={"description": "Your own id."}
    )
    occurred_at = fields.Float(
        load_default=None, validate=validate.Range(min=0, max=1e11), metadata={"description": "Unix time."}
    )

    @validates_schema
    def _person(self, data: dict, **kwargs: object) -> None:
        if not data.get("person_id") and not data.get("email"):
            raise ValidationError("give person_id or email", "person")
        for reserved in ("participant_id", "step_id"):
            if reserved in (data.get("data") or {}):
                raise ValidationError({reserved: ["reserved for superflow's own events"]}, "data")


class EventBatchSchema(_Strict):
    events = fields.List(
        fields.Nested(EventInSchema), required=True, validate=validate.Length(min=1, max=MAX_BATCH)
    )


class AcceptedSchema(_Strict):
    accepted = fields.Integer(required=True)
    ids = fields.List(fields.String(), required=True)


# -- reports and plugins --------------------------------------------------------
class ReportQuerySchema(Schema):
    since = fields.Date(
        load_default=None, data_key="from", metadata={"description": "First day (UTC), default 30 days ago."}
    )
    until = fields.Date(
        load_default=None, data_key="to", metadata={"description": "Last day, default today."}
    )


class FailureReasonSchema(_Strict):
    reason = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "How often it was seen."})
    last_seen = fields.Float(required=True, metadata={"description": "When it was last seen (Unix time)."})


class StepReportSchema(_Strict):
    id = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True)
    at = fields.Integer(required=True, metadata={"description": "Participants at this step now."})
    passed = fields.Integer(required=True)
    counters = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    retrying = fields.Integer(
        required=True, metadata={"description": "Participants waiting to try this step again."}
    )
    failed = fields.Integer(
        required=True,
        metadata={"description": "Participants that left the flow because this step kept failing."},
    )
    reasons = fields.List(
        fields.Nested(FailureReasonSchema),
        required=True,
        metadata={"description": "The latest distinct reasons this step failed, newest first."},
    )


class DayReportSchema(_Strict):
    day = fields.String(required=True)
    counters = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class ReportSchema(_Strict):
    flow_id = fields.String(required=True)
    totals = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    success_rate = fields.Float(allow_none=True, required=True)
    steps = fields.List(fields.Nested(StepReportSchema), required=True)
    trouble = fields.List(
        fields.Nested(StepReportSchema),
        required=True,
        metadata={"description": "The steps with participants retrying or failed."},
    )
    exits = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    branches = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    daily = fields.List(fields.Nested(DayReportSchema), required=True)


class ComponentSchema(_Strict):
    kind = fields.String(required=True)
    name = fields.String(required=True)
    label = fields.String(required=True)
    category = fields.String(required=True)
    description = fields.String(required=True)
    plugin = fields.String(required=True)
    settings = fields.Dict(required=True, metadata={"description": "JSON Schema of the settings."})


class PluginSchema(_Strict):
    name = fields.String(required=True)
    hooks = fields.List(fields.String(), required=True)
    registered = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    broken = fields.Raw(required=True, metadata={"description": "false, or why it failed to load."})


class PluginsSchema(_Strict):
    plugins = fields.List(fields.Nested(PluginSchema), required=True)
    components = fields.List(fields.Nested(ComponentSchema), required=True)


# -- persons ----------------------------------------------------------------------
MAX_CHANGES = 100


class PersonQuerySchema(_Strict):
    q = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Part of a name or email address, or a person id."},
    )
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=people.MAX_PAGE))


class PersonSummarySchema(_Strict):
    id = fields.String(required=True)
    full_name = fields.String(required=True)
    email = fields.String(required=True, allow_none=True)
    mobile = fields.String(required=True, allow_none=True)
    company = fields.String(required=True, allow_none=True, metadata={"description": "The company's name."})


class PersonListSchema(_Strict):
    persons = fields.List(fields.Nested(PersonSummarySchema), required=True)
    offset = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    next_offset = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Pass it as offset for the next page."}
    )


class FlowPartSchema(_Strict):
    flow_id = fields.String(required=True)
    flow_name = fields.String(required=True)
    participant_id = fields.String(required=True)
    status = fields.String(required=True)
    step = fields.String(required=True, allow_none=True)
    step_label = fields.String(required=True)
    enrolled = fields.Float(required=True)
    last_sending = fields.Dict(required=True, allow_none=True)


class PersonOutSchema(_Strict):
    id = fields.String(required=True)
    full_name = fields.String(required=True)
    values = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        required=True,
        metadata={"description": "Every field of the person by key (see the CRM's field list)."},
    )
    company = fields.Dict(required=True, allow_none=True)
    consents = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    subscriptions = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    selections = fields.List(fields.String(), required=True)
    flows = fields.List(fields.Nested(FlowPartSchema), required=True)


class PersonPatchSchema(_Strict):
    values = fields.Dict(
        data_key="fields",
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHANGES),
        metadata={
            "description": 'New values by field key, e.g. {"birth_date": "1980-04-02"}; null clears a field.'
        },
    )


class PersonPatchedSchema(PersonOutSchema):
    changed = fields.Dict(
        required=True, metadata={"description": "What changed: {field: [old value, new value]}."}
    )
