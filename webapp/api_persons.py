"""Persons: find persons in the CRM, read one with the flows they take part in, and
change their fields (through the CRM backend's ``update_persons``).

Reading needs the ``read`` permission; changing a person needs ``run`` — the
permission of ``admin`` keys, as changing CRM data is a flow administrator's act in
the admin screens too (``editor`` keys change flows, not people)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from marshmallow import fields as ma

from superflow import people
from superflow.webapp.api_auth import needs
from superflow.webapp.api_errors import ApiError
from superflow.webapp.runtime import runtime

blp = Blueprint("api_persons", __name__, url_prefix="/api/v1", description="Persons in the CRM.")

MAX_CHANGES = 100


class _Ordered(Schema):
    class Meta:
        ordered = True


class PersonQuerySchema(_Ordered):
    q = ma.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Part of a name or email address, or a person id."},
    )
    offset = ma.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    limit = ma.Integer(load_default=25, validate=validate.Range(min=1, max=people.MAX_PAGE))


class PersonSummarySchema(_Ordered):
    id = ma.String(required=True)
    full_name = ma.String(required=True)
    email = ma.String(required=True, allow_none=True)
    mobile = ma.String(required=True, allow_none=True)
    company = ma.String(required=True, allow_none=True, metadata={"description": "The company's name."})


class PersonListSchema(_Ordered):
    persons = ma.List(ma.Nested(PersonSummarySchema), required=True)
    offset = ma.Integer(required=True)
    limit = ma.Integer(required=True)
    next_offset = ma.Integer(
        required=True, allow_none=True, metadata={"description": "Pass it as offset for the next page."}
    )


class FlowPartSchema(_Ordered):
    flow_id = ma.String(required=True)
    flow_name = ma.String(required=True)
    participant_id = ma.String(required=True)
    status = ma.String(required=True)
    step = ma.String(required=True, allow_none=True)
    step_label = ma.String(required=True)
    enrolled = ma.Float(required=True)
    last_sending = ma.Dict(required=True, allow_none=True)


class PersonOutSchema(_Ordered):
    id = ma.String(required=True)
    full_name = ma.String(required=True)
    values = ma.Dict(
        data_key="fields",
        keys=ma.String(),
        required=True,
        metadata={"description": "Every field of the person by key (see the CRM's field list)."},
    )
    company = ma.Dict(required=True, allow_none=True)
    consents = ma.Dict(keys=ma.String(), values=ma.Boolean(), required=True)
    subscriptions = ma.Dict(keys=ma.String(), values=ma.Boolean(), required=True)
    selections = ma.List(ma.String(), required=True)
    flows = ma.List(ma.Nested(FlowPartSchema), required=True)


class PersonPatchSchema(_Ordered):
    values = ma.Dict(
        data_key="fields",
        keys=ma.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHANGES),
        metadata={
            "description": 'New values by field key, e.g. {"birth_date": "1980-04-02"}; null clears a field.'
        },
    )


class PersonPatchedSchema(PersonOutSchema):
    changed = ma.Dict(
        required=True, metadata={"description": "What changed: {field: [old value, new value]}."}
    )


def _out(person: dict[str, Any]) -> dict[str, Any]:
    rt = runtime()
    return {
        "id": str(person["id"]),
        "full_name": person.get("full_name") or "",
        "values": {f.key: people.value_of(person, f) for f in people.person_fields(rt.crm)},
        "company": person.get("company"),
        "consents": person.get("consents") or {},
        "subscriptions": person.get("subscriptions") or {},
        "selections": [str(s) for s in person.get("selections") or []],
        "flows": people.participations(rt, str(person["id"])),
    }


def _person(person_id: str) -> dict[str, Any]:
    try:
        return people.get(runtime().crm, person_id)
    except people.PersonNotFound as exc:
        raise ApiError(404, str(exc), "person_id") from None


@blp.route("/persons", methods=["GET"])
@blp.arguments(PersonQuerySchema, location="query")
@blp.response(200, PersonListSchema)
@needs("read")
def search(query: dict[str, Any]) -> dict[str, Any]:
    """Persons whose name or email address contains ``q`` (or whose id is ``q``),
    ordered by name; pass ``next_offset`` back as ``offset`` for the next page."""
    found = people.search(runtime().crm, query["q"], query["offset"], query["limit"])
    return {
        "persons": [
            {
                "id": str(p["id"]),
                "full_name": p.get("full_name") or "",
                "email": p.get("email"),
                "mobile": p.get("mobile"),
                "company": (p.get("company") or {}).get("name"),
            }
            for p in found.persons
        ],
        "offset": found.offset,
        "limit": found.limit,
        "next_offset": found.next_offset,
    }


@blp.route("/persons/<person_id>", methods=["GET"])
@blp.response(200, PersonOutSchema)
@needs("read")
def get_person(person_id: str) -> dict[str, Any]:
    """One person: fields, company, consents, subscriptions, selections and their
    latest participation in each flow."""
    return _out(_person(person_id))


@blp.route("/persons/<person_id>", methods=["PATCH"])
@blp.arguments(PersonPatchSchema)
@blp.response(200, PersonPatchedSchema)
@needs("run")
def patch_person(body: dict[str, Any], person_id: str) -> dict[str, Any]:
    """Change fields of a person.  Every value is checked first (a date must be a
    date, ``email`` an email address); one bad value is a 422 naming it and nothing is
    written.  Send an ``Idempotency-Key`` header to make a retried call apply once."""
    rt = runtime()
    _person(person_id)
    key = request.headers.get("Idempotency-Key", "").strip()
    edit_key = f"person-edit:api:{person_id}:{key[:200]}" if key else people.new_edit_key()
    try:
        changes = people.changes_from_json(people.person_fields(rt.crm), body["values"])
        changed = people.update(rt.crm, person_id, changes, edit_key)
    except people.PersonInputError as exc:
        raise ApiError(422, str(exc), f"fields.{exc.field}" if exc.field != "(crm)" else "(crm)") from None
    return dict(_out(_person(person_id)), changed=changed)
