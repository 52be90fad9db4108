"""Reading persons, with their company, consents, subscriptions, selections and projects, in a
handful of queries per 500 ids: the engine reads a whole batch at once."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from superflow import FieldInfo

from .db import chunks
from .db import marks
from .db import str_id
from .fields import COMPANY_COLUMNS
from .fields import COMPANY_PREFIX

Person = dict[str, Any]

_PERSONS_SQL = """
SELECT p.*, c.id AS c_id, c.name AS c_name, c.category AS c_category,
       c.business AS c_business, c.our_contact AS c_our_contact,
       c.our_service_contact AS c_our_service_contact, c.fields AS c_fields
FROM persons p LEFT JOIN companies c ON c.id = p.company_id
WHERE p.id IN ({marks})
"""

# (table, key column, flag column, key of the person dict they fill)
_FLAG_TABLES = (
    ("consents", "purpose", "granted", "consents"),
    ("subscriptions", "name", "subscribed", "subscriptions"),
)


def load_persons(conn: sqlite3.Connection, ids: list[int]) -> dict[str, Person]:
    """The persons that exist among ``ids``, keyed by id as a string, in ``ids`` order."""
    extra = extra_fields(conn)
    person_keys = [f.key for f in extra if f.entity == "person"]
    company_keys = [f.key.removeprefix(COMPANY_PREFIX) for f in extra if f.entity == "company"]
    found: dict[str, Person] = {}
    for chunk in chunks(ids):
        found.update(_load_chunk(conn, chunk, person_keys, company_keys))
    return {str(pid): found[str(pid)] for pid in ids if str(pid) in found}


def _load_chunk(
    conn: sqlite3.Connection, chunk: list[int], person_keys: list[str], company_keys: list[str]
) -> dict[str, Person]:
    places = marks(len(chunk))
    persons = {
        str(row["id"]): _person_dict(row, person_keys, company_keys)
        for row in conn.execute(_PERSONS_SQL.format(marks=places), chunk)
    }
    for table, key, flag, into in _FLAG_TABLES:
        rows = conn.execute(
            f"SELECT person_id, {key}, {flag} FROM {table} WHERE person_id IN ({places})", chunk
        )
        for pid, name, value in rows:
            persons[str(pid)][into][name] = bool(value)
    rows = conn.execute(
        "SELECT 'selections', person_id, selection_id FROM selection_members"
        f" WHERE person_id IN ({places})"
        " UNION ALL SELECT 'projects', person_id, project_id FROM project_members"
        f" WHERE person_id IN ({places}) ORDER BY 1, 2, 3",
        chunk + chunk,
    )
    for into, pid, owner in rows:
        persons[str(pid)][into].append(str(owner))
    return persons


def _person_dict(row: sqlite3.Row, person_keys: list[str], company_keys: list[str]) -> Person:
    stored = json.loads(row["fields"])
    names = (row["first_name"], row["last_name"])
    company = None
    if row["c_id"] is not None:
        values = [row["c_" + column] for column in COMPANY_COLUMNS]
        company = _company(row["c_id"], values, row["c_fields"], company_keys)
    return {
        "id": str(row["id"]),
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "full_name": " ".join(name for name in names if name),
        "email": row["email"],
        "mobile": row["mobile"],
        "language": row["language"],
        "birth_date": row["birth_date"],
        "timezone": row["timezone"],
        "email_blocked": bool(row["email_blocked"]),
        "company": company,
        "fields": {key: stored.get(key) for key in person_keys},
        "consents": {},
        "subscriptions": {},
        "selections": [],
        "projects": [],
    }


def company_dict(row: sqlite3.Row, company_keys: list[str]) -> dict[str, Any]:
    """A ``companies`` row as it appears in a person's ``company``."""
    values = [row[column] for column in COMPANY_COLUMNS]
    return _company(row["id"], values, row["fields"], company_keys)


def _company(company_id: int, values: list[Any], fields_json: str, company_keys: list[str]) -> dict[str, Any]:
    company = {"id": str(company_id), **dict(zip(COMPANY_COLUMNS, values, strict=True))}
    for column in ("our_contact", "our_service_contact"):
        company[column] = str_id(company[column])
    stored = json.loads(fields_json)
    company.update({key: stored.get(key) for key in company_keys})
    return company


def extra_fields(conn: sqlite3.Connection) -> list[FieldInfo]:
    """The user-defined fields; a company field's key is ``company.<key>``."""
    rows = conn.execute(
        "SELECT key, label, type, entity, choices FROM field_definitions ORDER BY position, key"
    )
    return [
        FieldInfo(
            (COMPANY_PREFIX if row["entity"] == "company" else "") + row["key"],
            row["label"],
            row["type"],
            entity=row["entity"],
            choices=tuple(json.loads(row["choices"])),
        )
        for row in rows
    ]


def membership(
    conn: sqlite3.Connection, table: str, column: str, owner: int, ids: list[int]
) -> dict[int, bool]:
    """For each existing person among ``ids`` (in order): is it in the selection or
    project ``owner``?  Persons that do not exist are left out."""
    found: dict[int, bool] = {}
    for chunk in chunks(ids):
        rows = conn.execute(
            f"SELECT p.id, m.person_id IS NOT NULL FROM persons p LEFT JOIN {table} m"
            f" ON m.person_id = p.id AND m.{column} = ? WHERE p.id IN ({marks(len(chunk))})",
            (owner, *chunk),
        )
        found.update((pid, bool(member)) for pid, member in rows)
    return {pid: found[pid] for pid in ids if pid in found}
