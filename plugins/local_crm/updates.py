"""Applying a batch of person updates inside one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from superflow import CrmError

from .db import applied
from .db import chunks
from .db import int_ids
from .db import marks
from .db import now
from .db import record_keys
from .db import require_associate
from .db import str_id
from .fields import ASSOCIATE_FIELDS
from .fields import COMPANY_COLUMNS
from .fields import COMPANY_PREFIX
from .fields import PERSON_COLUMNS

Update = tuple[str, dict[str, Any], str | None]


class UpdatePlan:
    """One batch of checked updates, applied in the caller's write transaction.

    Loads the persons and companies concerned, applies the changes in memory (so two
    updates of one person or company in a batch see each other), then writes each
    changed row once with ``executemany`` and records the idempotency keys.
    """

    def __init__(self, conn: sqlite3.Connection, updates: list[Update], call: str) -> None:
        self.conn = conn
        self.updates = updates
        self.call = call
        self.done = applied(conn, [key for _, _, key in updates if key is not None])
        pending = [pid for pid, _, key in updates if key not in self.done]
        self.persons = _person_states(conn, int_ids(pending))
        company_ids = {p["company_id"] for p in self.persons.values() if p["company_id"]}
        self.companies = _company_states(conn, list(company_ids))
        self.changed: list[tuple[str, dict[str, list[Any]]]] = []
        self._dirty_persons: set[str] = set()
        self._dirty_companies: set[int] = set()
        self._new_keys: list[tuple[str, Any]] = []

    def apply(self) -> list[dict[str, Any] | None]:
        """Per update, ``{field: [old, new]}`` of what changed, or ``None`` when the
        person does not exist.  ``changed`` then lists ``(person_id, changes)``."""
        self._check_associates()
        results = [self._apply_one(pid, changes, key) for pid, changes, key in self.updates]
        self._write()
        return results

    def _apply_one(self, pid: str, changes: dict[str, Any], key: str | None) -> dict[str, Any] | None:
        if key is not None and key in self.done:
            return self.done[key]
        person = self.persons.get(pid)
        if person is None:
            return None
        diff = {}
        for field, new in changes.items():
            target, attr, mark_dirty = self._target(pid, person, field)
            old = target.get(attr)
            if old != new:
                target[attr] = new
                diff[field] = [old, new]
                mark_dirty()
        if diff:
            self.changed.append((pid, diff))
        if key is not None:
            self.done[key] = diff
            self._new_keys.append((key, diff))
        return diff

    def _target(
        self, pid: str, person: dict[str, Any], field: str
    ) -> tuple[dict[str, Any], str, Callable[[], None]]:
        """The in-memory dict and key that hold ``field`` of this person, and how to
        mark the row that holds it as changed."""
        if field.startswith(COMPANY_PREFIX):
            cid = person["company_id"]
            company = self.companies.get(cid)
            if company is None:
                raise CrmError(f"{self.call}: person {pid} has no company, cannot set {field!r}")
            attr = field.removeprefix(COMPANY_PREFIX)
            target = company if attr in COMPANY_COLUMNS else company["fields"]
            return target, attr, lambda: self._dirty_companies.add(cid)
        target = person if field in PERSON_COLUMNS else person["fields"]
        return target, field, lambda: self._dirty_persons.add(pid)

    def _check_associates(self) -> None:
        for pid, changes, _ in self.updates:
            for field in ASSOCIATE_FIELDS & changes.keys():
                what = f"{self.call}: person {pid}: {field}"
                require_associate(self.conn, changes[field], what)

    def _write(self) -> None:
        stamp = now()
        assignments = ", ".join(f"{column} = ?" for column in PERSON_COLUMNS)
        self.conn.executemany(
            f"UPDATE persons SET {assignments}, fields = ?, updated_at = ? WHERE id = ?",
            [
                (*_person_row(self.persons[pid]), stamp, int(pid))
                for pid in sorted(self._dirty_persons, key=int)
            ],
        )
        assignments = ", ".join(f"{column} = ?" for column in COMPANY_COLUMNS)
        self.conn.executemany(
            f"UPDATE companies SET {assignments}, fields = ? WHERE id = ?",
            [(*_company_row(self.companies[cid]), cid) for cid in sorted(self._dirty_companies)],
        )
        record_keys(self.conn, self._new_keys)


def _person_states(conn: sqlite3.Connection, ids: list[int]) -> dict[str, dict[str, Any]]:
    states = {}
    for chunk in chunks(ids):
        rows = conn.execute(
            f"SELECT id, {', '.join(PERSON_COLUMNS)}, company_id, fields FROM persons"
            f" WHERE id IN ({marks(len(chunk))})",
            chunk,
        )
        for row in rows:
            state = {column: row[column] for column in PERSON_COLUMNS}
            state["email_blocked"] = bool(state["email_blocked"])
            state["company_id"] = row["company_id"]
            state["fields"] = json.loads(row["fields"])
            states[str(row["id"])] = state
    return states


def _company_states(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    states = {}
    for chunk in chunks(ids):
        rows = conn.execute(f"SELECT * FROM companies WHERE id IN ({marks(len(chunk))})", chunk)
        for row in rows:
            state = {column: row[column] for column in COMPANY_COLUMNS}
            for column in ("our_contact", "our_service_contact"):
                state[column] = str_id(state[column])
            state["fields"] = json.loads(row["fields"])
            states[row["id"]] = state
    return states


def _person_row(state: dict[str, Any]) -> tuple[Any, ...]:
    return (*(state[column] for column in PERSON_COLUMNS), json.dumps(state["fields"]))


def _company_row(state: dict[str, Any]) -> tuple[Any, ...]:
    return (*(state[column] for column in COMPANY_COLUMNS), json.dumps(state["fields"]))
