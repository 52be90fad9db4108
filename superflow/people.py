"""Persons in the CRM as the admin's People screen, the persons API and ``superflow crm
person`` see them: found by name or email, shown with the flows they take part in, and
their fields changed through the CRM backend's ``update_persons``.

One set of rules for all three: a value typed in a form or on the command line is
read by its field's type (a date must be a date, an email address must look like
one), and a bad value is refused with the field named by its label, before anything
is written.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from superflow.crm import CrmBackend
from superflow.crm import FieldInfo
from superflow.crm import person_value

MAX_PAGE = 50
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
MOBILE = re.compile(r"\+?[0-9][0-9 ()-]{3,24}")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class PersonInputError(ValueError):
    """A value that cannot be saved; ``field`` is the field's key, the message names
    it by its label, in a marketer's words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PersonNotFound(LookupError):
    """No person with this id in the CRM."""

    def __init__(self, person_id: str) -> None:
        super().__init__(f"There is no person {person_id} in the CRM.")
        self.person_id = person_id


@dataclass(frozen=True)
class Found:
    """One page of a search: the persons, and where the next page starts (or ``None``)."""

    persons: list[dict[str, Any]]
    offset: int
    limit: int
    next_offset: int | None


def search(crm: CrmBackend, text: str, offset: int = 0, limit: int = 25) -> Found:
    """Persons matching ``text`` — part of a name or email address, or an id — one
    page of at most :data:`MAX_PAGE`.  A backend without ``search_persons`` finds a
    person by exact email address or id only (``find_person``)."""
    limit = max(1, min(int(limit), MAX_PAGE))
    offset = max(0, int(offset))
    text = text.strip()[:200]
    if not text:
        return Found([], offset, limit, None)
    finder = getattr(crm, "search_persons", None)
    if finder is None:
        person = crm.find_person(text) if offset == 0 else None
        return Found([person] if person else [], offset, limit, None)
    rows = finder(text, offset=offset, limit=limit + 1)
    more = len(rows) > limit
    return Found(rows[:limit], offset, limit, offset + limit if more else None)


def get(crm: CrmBackend, person_id: str) -> dict[str, Any]:
    """The person, or :class:`PersonNotFound`."""
    person = crm.get_person(str(person_id)) if str(person_id).strip() else None
    if person is None:
        raise PersonNotFound(str(person_id))
    return person


def can_write(crm: CrmBackend) -> bool:
    """Whether the backend changes persons at all (it implements ``update_persons``)."""
    return type(crm).update_persons is not CrmBackend.update_persons


def person_fields(crm: CrmBackend) -> list[FieldInfo]:
    """The person's own fields (built-in and extra), in the CRM's order; company
    fields belong to the company and are shown, not edited, on a person."""
    return [f for f in crm.list_fields() if f.entity == "person" and not f.key.startswith("company.")]


def company_fields(crm: CrmBackend) -> list[FieldInfo]:
    return [f for f in crm.list_fields() if f.entity == "company" or f.key.startswith("company.")]


def value_of(person: dict[str, Any], field: FieldInfo) -> Any:
    return person_value(person, field.key)


def shown(value: Any) -> str:
    """A stored value as a form or the command line shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_text(field: FieldInfo, text: str) -> Any:
    """What a marketer typed for ``field`` as the CRM stores it: ``""`` clears a
    field (``None``); raises :class:`PersonInputError` naming the field."""
    text = text.strip()
    if field.type == "bool":
        word = text.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise PersonInputError(field.key, f"{field.label}: answer yes or no, not {text!r}.")
    if text == "":
        return None
    if field.type == "number":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise PersonInputError(field.key, f"{field.label}: {text!r} is not a number.") from None
        return int(number) if number.is_integer() and "." not in text and "," not in text else number
    return check(field, text)


def check(field: FieldInfo, value: Any) -> Any:
    """A value (from JSON or already parsed) checked against ``field``'s type and
    the rules for email addresses and mobile numbers; returned as stored."""
    if value is None:
        return None
    kind = field.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise PersonInputError(field.key, f"{field.label}: answer yes or no (true or false).")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise PersonInputError(field.key, f"{field.label}: give a number.")
        return value
    if not isinstance(value, str):
        raise PersonInputError(field.key, f"{field.label}: give text, not {type(value).__name__}.")
    if kind == "date":
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise PersonInputError(
                field.key, f"{field.label}: {value!r} is not a date; write it as 2026-12-03 (year-month-day)."
            ) from None
    if kind == "datetime":
        try:
            return dt.datetime.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise PersonInputError(
                field.key, f"{field.label}: {value!r} is not a date and time; write it as 2026-12-03T09:30."
            ) from None
    if kind == "list" and field.choices and value not in field.choices:
        raise PersonInputError(field.key, f"{field.label}: choose one of {', '.join(field.choices)}.")
    if field.key == "email" and value and not EMAIL.fullmatch(value.strip()):
        raise PersonInputError(field.key, f"{field.label}: {value!r} is not an email address.")
    if field.key == "mobile" and value and not MOBILE.fullmatch(value.strip()):
        raise PersonInputError(
            field.key, f"{field.label}: {value!r} is not a phone number; write it as +4791234567."
        )
    if field.key == "timezone" and value and not _is_zone(value.strip()):
        raise PersonInputError(
            field.key, f"{field.label}: {value!r} is not a time zone; write it as Europe/Oslo."
        )
    return value.strip() if field.key in ("email", "mobile", "timezone") else value


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def changes_from_text(fields: list[FieldInfo], values: Mapping[str, str]) -> dict[str, Any]:
    """Typed changes from ``{field key: text}`` (a form, ``--set key=value``); every
    key must be a writable field of the person."""
    by_key = {f.key: f for f in fields}
    by_label = {f.label.lower(): f for f in fields}
    changes: dict[str, Any] = {}
    for key, text in values.items():
        field = by_key.get(key) or by_label.get(key.lower())
        if field is None:
            raise PersonInputError(
                key, f"A person has no field {key!r}; the fields are: {', '.join(sorted(by_key))}."
            )
        _writable(field)
        changes[field.key] = parse_text(field, text)
    return changes


def changes_from_json(fields: list[FieldInfo], values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed changes from a JSON object of ``{field key: value}`` (the API)."""
    by_key = {f.key: f for f in fields}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        field = by_key.get(key)
        if field is None:
            raise PersonInputError(
                key, f"A person has no field {key!r}; the fields are: {', '.join(sorted(by_key))}."
            )
        _writable(field)
        changes[key] = check(field, value)
    return changes


def _writable(field: FieldInfo) -> None:
    if not field.writable:
        raise PersonInputError(field.key, f"{field.label} cannot be changed here: the CRM keeps it.")


def new_edit_key() -> str:
    """An idempotency key for one edit (one form shown, one API call, one command):
    the same edit sent twice is applied once."""
    return "person-edit:" + secrets.token_urlsafe(16)


def update(crm: CrmBackend, person_id: str, changes: dict[str, Any], edit_key: str) -> dict[str, Any]:
    """Write ``changes`` through ``update_persons``; ``{field: [old, new]}`` of what
    changed.  :class:`PersonNotFound` for an unknown person."""
    get(crm, person_id)
    if not changes:
        return {}
    if not can_write(crm):
        raise PersonInputError("(crm)", "This CRM's persons cannot be changed from superflow.")
    (result,) = crm.update_persons([(str(person_id), changes, edit_key)])
    return result or {}


def participations(rt: Any, person_id: str) -> list[dict[str, Any]]:
    """The person's participations, one per flow (the latest), newest first: flow,
    status, current step (in words) and last sending (``last_message``: the title of
    the step that sent it)."""
    latest = rt.store.person_participations([str(person_id)])[str(person_id)]
    loaded = rt.store.participants(latest.values())
    rows = []
    for flow_id, pid in latest.items():
        p = loaded.get(pid)
        if p is None:
            continue
        meta = rt.store.flow_meta(flow_id)
        flow = rt.engine.flow(flow_id, p.version)
        step = ""
        if p.step and flow is not None and p.step in flow.steps:
            step = flow.step_label(p.step, rt.registry)
        sent_by = (p.last_sending or {}).get("step")
        message = flow.step_label(sent_by, rt.registry) if flow is not None and sent_by in flow.steps else ""
        rows.append(
            {
                "flow_id": flow_id,
                "flow_name": meta.get("name") or f"Flow {flow_id}",
                "participant_id": p.id,
                "status": p.status,
                "step": p.step,
                "step_label": step,
                "enrolled": p.enrolled,
                "last_sending": p.last_sending,
                "last_message": message,
            }
        )
    rows.sort(key=lambda row: row["enrolled"], reverse=True)
    return rows
