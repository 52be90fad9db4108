"""SuperOffice webhook payloads → superflow events.

A payload names the event (``person.changed``), the record (``PrimaryKey``), the changed
database columns (``Changes``) and, in newer versions, a few ``FieldValues`` — but not the
values superflow's triggers compare (docs/en/automation/webhook/notification.md and
docs/en/automation/webhook/reference/*-events.md in SuperOfficeDocs/superoffice-docs).
So :func:`events_for` reads the record through the backend and compares the person with
the values last seen (kept by the ledger): ``person.changed`` becomes ``person.updated``
with ``{field: [old, new]}``.  It runs in a worker job, never in the web request.
"""

from __future__ import annotations

from typing import Any

from superflow import Event

from . import mapping
from .backend import SOURCE
from .backend import SuperOfficeCrm
from .client import NotFound

# appointment.type values that are not follow-ups: Note (3), Document (4), SavedReport (5),
# MergeDraft (8), MergeFinal (9) — the AppointmentType enum; FieldValues.type of
# activity.created carries it (docs/en/automation/webhook/reference/activity-events.md).
NOT_FOLLOW_UPS = frozenset({"3", "4", "5", "8", "9"})
FOLLOW_UP_TYPES = frozenset({"inDiary", "inChecklist", "BookingForDiary", "BookingForChecklist"})

# Changed columns of the person table (docs/en/database/tables/person.md; the names seen
# in the person.created/changed examples) → the person fields they feed.
COLUMN_KEYS = {
    "firstname": ("first_name",),
    "lastname": ("last_name",),
    "nomailing": ("email_blocked",),
    "day_of_birth": ("birth_date",),
    "month_of_birth": ("birth_date",),
    "year_of_birth": ("birth_date",),
    "supportLanguageId": ("language",),
    "contact_id": ("company.name", "company.category", "company.business", "company.our_contact"),
}


def events_for(crm: SuperOfficeCrm, payload: dict[str, Any]) -> list[Event]:
    """The superflow events one webhook payload stands for (none for events superflow
    does not use, or for the echo of superflow's own write)."""
    name = str(payload.get("Event") or "").lower()
    key = str(payload.get("PrimaryKey") or "")
    if not key.isdigit():
        return []
    handler = _HANDLERS.get(name)
    if handler is None:
        return []
    try:
        return handler(crm, key, payload)
    except NotFound:
        return []


def _person_changed(crm: SuperOfficeCrm, pid: str, payload: dict[str, Any]) -> list[Event]:
    person = crm.get_persons([pid]).get(pid)
    if person is None:
        return []
    new = mapping.flat(person)
    old = crm.ledger.snapshot(pid)
    crm.ledger.remember(pid, {**(old or {}), **new})
    if old is not None:
        changes = {k: [old[k], v] for k, v in new.items() if k in old and old[k] != v}
    else:
        changed = {str(c) for c in payload.get("Changes") or []}
        keys = {k for column in changed for k in COLUMN_KEYS.get(column, ())}
        if changed & {"userdef_id", "userdef2_id"}:
            keys |= set(person.get("fields") or {})
        changes = {k: [None, new[k]] for k in sorted(keys) if new.get(k) is not None}
    return [_event("person.updated", pid, {"changes": changes})] if changes else []


def _consent_changed(crm: SuperOfficeCrm, pid: str, payload: dict[str, Any]) -> list[Event]:
    person = crm.get_persons([pid]).get(pid)
    if person is None:
        return []
    old = crm.ledger.snapshot(pid) or {}
    seen = {k[len("consent.") :]: v for k, v in old.items() if k.startswith("consent.")}
    now = person.get("consents") or {}
    crm.ledger.remember(pid, {**old, **{f"consent.{p}": g for p, g in now.items()}})
    events = []
    for purpose, granted in sorted(now.items()):
        if seen.get(purpose) is granted or (seen and purpose not in seen):
            continue
        if not crm.ledger.first_time(f"consent:{pid}:{purpose}:{granted}", ttl=600):
            continue  # superflow's own set_consent already emitted it
        events.append(_event("consent.changed", pid, {"purpose": purpose, "granted": granted}))
    return events


def _contact_changed(crm: SuperOfficeCrm, contact_id: str, payload: dict[str, Any]) -> list[Event]:
    rows = crm.client.query(
        "Person", "webhook contact.changed", ["personId"], f"contactId eq {int(contact_id)}"
    )
    ids = sorted({str(r["personId"]) for r in rows}, key=int)
    events = []
    for pid, person in crm.get_persons(ids).items():
        new = {k: v for k, v in mapping.flat(person).items() if k.startswith("company.")}
        old = crm.ledger.snapshot(pid)
        crm.ledger.remember(pid, {**(old or {}), **new})
        if old is None:
            continue
        changes = {k: [old[k], v] for k, v in new.items() if k in old and old[k] != v}
        if changes:
            events.append(_event("company.updated", pid, {"company_id": contact_id, "changes": changes}))
    return events


def _sale_created(crm: SuperOfficeCrm, sale_id: str, payload: dict[str, Any]) -> list[Event]:
    if not crm.ledger.first_time(f"created:sale:{sale_id}"):
        return []
    sale = crm.client.get(f"Sale/{sale_id}", "webhook sale.created")
    pid = mapping.id_value((sale.get("Person") or {}).get("PersonId"))
    if pid is None:
        return []
    data = {
        "id": sale_id,
        "person_id": pid,
        "title": sale.get("Heading"),
        "amount": float(sale.get("Amount") or 0),
        # SaleEntity.SaleType is {Id, Value, Tooltip} (.../rest/Sale/v1SaleEntity_GetSaleEntity.md)
        "sale_type": (sale.get("SaleType") or {}).get("Value") or (sale.get("SaleType") or {}).get("Name"),
        "stage": str(sale.get("Status") or "").lower() or None,
        "probability": sale.get("Probability"),
        "expected_date": str(sale.get("Saledate") or "")[:10] or None,
        "owner": mapping.id_value((sale.get("Associate") or {}).get("AssociateId")),
    }
    return [_event("sale.created", pid, data)]


def _ticket_created(crm: SuperOfficeCrm, ticket_id: str, payload: dict[str, Any]) -> list[Event]:
    if not crm.ledger.first_time(f"created:request:{ticket_id}"):
        return []
    ticket = crm.client.get(f"Ticket/{ticket_id}", "webhook ticket.created")
    pid = mapping.id_value((ticket.get("Person") or {}).get("PersonId"))
    if pid is None:
        return []
    data = {
        "id": ticket_id,
        "person_id": pid,
        "title": ticket.get("Title"),
        "category": (ticket.get("Category") or {}).get("Name")
        or (ticket.get("Category") or {}).get("FullName"),
        "priority": str((ticket.get("Priority") or {}).get("Name") or "").lower() or None,
        # TicketEntity.Status and .Priority are objects with a Name (.../rest/Ticket/...)
        "status": _name(ticket.get("Status")),
        "owner": mapping.id_value((ticket.get("OwnedBy") or {}).get("AssociateId")),
    }
    return [_event("request.created", pid, data)]


def _appointment_created(crm: SuperOfficeCrm, appointment_id: str, payload: dict[str, Any]) -> list[Event]:
    values = payload.get("FieldValues") or {}
    if str(values.get("type", "")) in NOT_FOLLOW_UPS:  # documents, notes, reports are activities too
        return []
    if not crm.ledger.first_time(f"created:follow_up:{appointment_id}"):
        return []
    appointment = crm.client.get(f"Appointment/{appointment_id}", "webhook activity.created")
    pid = mapping.id_value((appointment.get("Person") or {}).get("PersonId"))
    if pid is None:
        return []
    if appointment.get("Type") not in FOLLOW_UP_TYPES:
        return []
    kind = "appointment" if appointment.get("Type") in ("inDiary", "BookingForDiary") else "task"
    data = {
        "id": appointment_id,
        "person_id": pid,
        "title": str(appointment.get("Description") or "").split("\n")[0],
        "type": kind,
        "starts_at": appointment.get("StartDate"),
        "ends_at": appointment.get("EndDate"),
        "owner": mapping.id_value((appointment.get("Associate") or {}).get("AssociateId")),
    }
    return [_event("follow_up.created", pid, data)]


def _project_member_created(crm: SuperOfficeCrm, member_id: str, payload: dict[str, Any]) -> list[Event]:
    member = crm.client.get(f"ProjectMember/{member_id}", "webhook projectmember.created")
    pid = mapping.id_value(member.get("PersonId"))
    project = mapping.id_value(member.get("ProjectId"))
    if pid is None or project is None:
        return []
    if not crm.ledger.first_time(f"member:project:{project}:{pid}", ttl=600):
        return []
    data = {"project_id": project, "member_type": member.get("ProjectMemberTypeName"), "status": None}
    return [_event("project.member_added", pid, data)]


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("Name") or value.get("Value")
    return str(value or "").lower() or None


def _event(event_type: str, person_id: str, data: dict[str, Any]) -> Event:
    return Event(type=event_type, person_id=person_id, data=data, source=SOURCE)


_HANDLERS = {
    "person.changed": _person_changed,
    "person.consented": _consent_changed,
    "person.unconsented": _consent_changed,
    "contact.changed": _contact_changed,
    "sale.created": _sale_created,
    "ticket.created": _ticket_created,
    "activity.created": _appointment_created,
    "projectmember.created": _project_member_created,
}

# The events register-webhook subscribes to (names from docs/en/automation/webhook/event-details.md;
# appointments raise activity.*, there is no appointment.* event).
SUBSCRIBED = ("person.created", *_HANDLERS)
