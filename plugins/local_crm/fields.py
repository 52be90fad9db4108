"""The local CRM's fields: the built-in ones, and how a value is checked against a type."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from superflow import CrmError
from superflow import FieldInfo
from superflow import UnknownField

# A "list" field is a pick list: it holds one of its choices (any text if it has none).
FIELD_TYPES = ("text", "number", "date", "datetime", "bool", "list")
ENTITIES = ("person", "company")
COMPANY_PREFIX = "company."

PERSON_FIELDS: tuple[FieldInfo, ...] = (
    FieldInfo("first_name", "First name", "text"),
    FieldInfo("last_name", "Last name", "text"),
    FieldInfo("email", "Email", "text"),
    FieldInfo("mobile", "Mobile", "text"),
    FieldInfo("language", "Language", "text"),
    FieldInfo("birth_date", "Birth date", "date"),
    FieldInfo("timezone", "Time zone", "text"),
    FieldInfo("email_blocked", "Email blocked", "bool"),
)
COMPANY_FIELDS: tuple[FieldInfo, ...] = (
    FieldInfo("company.name", "Company name", "text", entity="company"),
    FieldInfo("company.category", "Company category", "text", entity="company"),
    FieldInfo("company.business", "Company business", "text", entity="company"),
    FieldInfo("company.our_contact", "Our contact", "text", entity="company"),
    FieldInfo("company.our_service_contact", "Our service contact", "text", entity="company"),
)

PERSON_COLUMNS = tuple(f.key for f in PERSON_FIELDS)
COMPANY_COLUMNS = tuple(f.key.removeprefix(COMPANY_PREFIX) for f in COMPANY_FIELDS)
ASSOCIATE_FIELDS = frozenset({"company.our_contact", "company.our_service_contact"})
NOT_NULL_FIELDS = frozenset({"email_blocked", "company.name"})
RESERVED_KEYS = frozenset(PERSON_COLUMNS) | {"id", "full_name", "company", "company_id"}

_KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_definition(key: str, type: str, entity: str, choices: tuple[str, ...]) -> None:
    """Refuse an extra field definition that would clash with or confuse the built-ins."""
    if not _KEY_PATTERN.fullmatch(key):
        raise CrmError(
            f"define_field: key {key!r} must be lower case letters, digits and underscores, "
            "starting with a letter"
        )
    if key in RESERVED_KEYS or (entity == "company" and key in COMPANY_COLUMNS + ("fields",)):
        raise CrmError(f"define_field: {key!r} is a built-in field; choose another key")
    if type not in FIELD_TYPES:
        raise CrmError(f"define_field: type {type!r} is not one of {', '.join(FIELD_TYPES)}")
    if entity not in ENTITIES:
        raise CrmError(f"define_field: entity {entity!r} is not one of {', '.join(ENTITIES)}")
    if choices and type != "list":
        raise CrmError(f"define_field: only a 'list' field has choices, not a {type!r} field")


def check_value(field: FieldInfo, value: Any) -> Any:
    """Return ``value`` as the CRM stores it for ``field``, or raise :class:`CrmError`
    naming the field, the value and what the field's type expects."""
    if value is None:
        if field.key in NOT_NULL_FIELDS:
            raise CrmError(f"field {field.key!r} cannot be empty (None)")
        return None
    if field.key in ASSOCIATE_FIELDS:
        return _check(field, value, _associate_id, "an associate id such as '2'")
    if field.key == "timezone":
        return _check(field, value, _timezone, "an IANA time zone such as 'Europe/Oslo'")
    if field.type == "list":
        expected = "one of " + ", ".join(map(repr, field.choices)) if field.choices else "text"
        return _check(field, value, lambda v: _choice(v, field.choices), expected)
    parse, expected = _TYPE_CHECKS[field.type]
    return _check(field, value, parse, expected)


def _check(field: FieldInfo, value: Any, parse: Callable[[Any], Any], expected: str) -> Any:
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise CrmError(
            f"field {field.key!r} ({field.type}): {value!r} is not valid; expected {expected}"
        ) from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(value)
    return value


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        raise TypeError(value)
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(_text(value)).isoformat()


def _datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.fromisoformat(_text(value)).isoformat()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(value)
    return value


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    text = _text(value)
    if choices and text not in choices:
        raise ValueError(value)
    return text


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(_text(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(value) from None
    return value


def _associate_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).isdigit():
        raise TypeError(value)
    return str(value)


_TYPE_CHECKS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "text": (_text, "text (a str)"),
    "number": (_number, "a number (int or float)"),
    "date": (_date, "an ISO date such as '1980-04-02'"),
    "datetime": (_datetime, "an ISO date and time such as '2024-05-01T09:30:00+02:00'"),
    "bool": (_bool, "true or false (a bool)"),
}


def check_changes(who: str, changes: dict[str, Any], fields: dict[str, FieldInfo]) -> dict[str, Any]:
    """Check every key and value of ``changes`` against ``fields``; return the values
    as stored.  ``who`` (the call and the person) starts every error message."""
    checked = {}
    for key, value in changes.items():
        field = fields.get(key)
        if field is None:
            raise UnknownField(f"{who}: unknown field {key!r}; the fields are: {', '.join(sorted(fields))}")
        if not field.writable:
            raise CrmError(f"{who}: field {key!r} cannot be changed")
        try:
            checked[key] = check_value(field, value)
        except CrmError as error:
            raise CrmError(f"{who}: {error}") from None
    return checked


def check_argument(call: str, name: str, type: str, value: Any) -> Any:
    """Check a method argument as if it were a field of ``type``; return it as stored."""
    try:
        return check_value(FieldInfo(name, name, type), value)
    except CrmError as error:
        raise CrmError(f"{call}: {error}") from None


def require_text(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CrmError(f"{what} must be non-empty text, not {value!r}")
    return value


def require_bool(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CrmError(f"{what} must be true or false (a bool), not {value!r}")
    return value
