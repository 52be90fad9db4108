"""``POST /api/v1/events``: things that happened to persons, from integrations.

An event becomes the engine's ``api.event`` with ``data.name`` set to its ``type``:
the "API event" trigger and success criterion match on that name.  Events are
queued for the workers, never handled in the request; a batch is checked whole
first (every person must be found) and queued in jobs of ``SUPERFLOW_BATCH_SIZE``.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from superflow.events import Event
from superflow.webapp.api.auth import by
from superflow.webapp.api.auth import needs
from superflow.webapp.api.errors import ApiError
from superflow.webapp.api.schemas import AcceptedSchema
from superflow.webapp.api.schemas import EventBatchSchema
from superflow.webapp.api.schemas import EventInSchema
from superflow.webapp.runtime import runtime

blp = Blueprint(
    "api_events", __name__, url_prefix="/api/v1", description="Events for flows' triggers and criteria."
)
ENGINE_TYPE = "api.event"
# Instances, not classes: given a class, webargs builds a new schema (and deep-copies
# its fields) on every request — a tenth of a single event's time.  Loading keeps no
# state in the instance, so the threads of a web worker share them.
EVENT_IN = EventInSchema()
EVENT_BATCH = EventBatchSchema()
ACCEPTED = AcceptedSchema()


@blp.route("/events", methods=["POST"])
@blp.arguments(EVENT_IN)
@blp.response(202, ACCEPTED)
@needs("events")
def post_event(body: dict[str, Any]) -> dict[str, Any]:
    """Post one event for a person, named by ``person_id`` or ``email``."""
    return _accept([body], "")


@blp.route("/events/batch", methods=["POST"])
@blp.arguments(EVENT_BATCH)
@blp.response(202, ACCEPTED)
@needs("events")
def post_events(body: dict[str, Any]) -> dict[str, Any]:
    """Post up to 1000 events at once; none is queued unless all are good."""
    return _accept(body["events"], "events")


def _accept(items: list[dict[str, Any]], path: str) -> dict[str, Any]:
    rt = runtime()
    where = (lambda i: f"{path}[{i}].") if path else (lambda i: "")
    ids = [item["person_id"] for item in items if item["person_id"]]
    known = rt.crm.existing_persons(ids) if ids else set()
    by_email: dict[str, str | None] = {}
    errors = []
    persons: list[str] = []
    for i, item in enumerate(items):
        if item["person_id"]:
            if item["person_id"] not in known:
                errors.append(
                    {"field": f"{where(i)}person_id", "message": f"no person {item['person_id']} in the CRM"}
                )
            persons.append(item["person_id"])
            continue
        email = item["email"].strip().lower()
        if email not in by_email:
            found = rt.crm.find_person_by_email(email)
            by_email[email] = str(found["id"]) if found else None
        if by_email[email] is None:
            errors.append(
                {"field": f"{where(i)}email", "message": f"no person with email {item['email']} in the CRM"}
            )
        persons.append(by_email[email] or "")
    if errors:
        raise ApiError(422, errors[0]["message"], errors=errors)
    source = by()
    events = []
    for item, person_id in zip(items, persons, strict=True):
        extra = {k: v for k, v in (("id", item["id"]), ("occurred_at", item["occurred_at"])) if v is not None}
        data = dict(item["data"], name=item["type"])
        events.append(Event(ENGINE_TYPE, person_id, data, source=source, **extra))
    rt.emit(events)
    return {"accepted": len(events), "ids": [e.id for e in events]}
