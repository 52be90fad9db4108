"""Persons: find persons in the CRM, read one with the flows they take part in, and
change their fields (through the CRM backend's ``update_persons``).

Reading needs the ``read`` permission; changing a person needs ``run`` — the
permission of ``admin`` keys, as changing CRM data is a flow administrator's act in
the admin screens too (``editor`` keys change flows, not people)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from superflow import people
from superflow.webapp.api.auth import needs
from superflow.webapp.api.errors import ApiError
from superflow.webapp.api.schemas import PersonListSchema
from superflow.webapp.api.schemas import PersonOutSchema
from superflow.webapp.api.schemas import PersonPatchedSchema
from superflow.webapp.api.schemas import PersonPatchSchema
from superflow.webapp.api.schemas import PersonQuerySchema
from superflow.webapp.runtime import runtime

blp = Blueprint("api_persons", __name__, url_prefix="/api/v1", description="Persons in the CRM.")


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
