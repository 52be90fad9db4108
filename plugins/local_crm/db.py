"""SQLite plumbing shared by the local CRM's modules: ids, chunked ``IN`` lists,
inserts, existence checks and the idempotency ledger.

Table and column names in the SQL built here always come from this package's own
constants, never from callers' data; values always travel as parameters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar

from superflow import CrmError

CHUNK_SIZE = 500
ID_COLUMNS = frozenset(
    {"id", "person_id", "company_id", "owner", "default_owner", "our_contact", "our_service_contact"}
)

T = TypeVar("T")


def chunks(items: list[T]) -> Iterator[list[T]]:
    """``items`` in slices of at most :data:`CHUNK_SIZE`, for ``IN (...)`` lists."""
    for start in range(0, len(items), CHUNK_SIZE):
        yield items[start : start + CHUNK_SIZE]


def marks(count: int) -> str:
    """``?, ?, ?`` for ``count`` parameters."""
    return ", ".join("?" * count)


def int_ids(ids: Iterable[Any]) -> list[int]:
    """Distinct ids as ints, in order; an id that is not digits cannot exist and is dropped."""
    seen: dict[int, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if text.isascii() and text.isdigit():
            seen.setdefault(int(text), None)
    return list(seen)


def str_id(value: Any) -> str | None:
    return None if value is None else str(value)


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict, with ids as strings like everywhere in the Python API."""
    pairs = zip(row.keys(), row, strict=True)
    return {key: str_id(value) if key in ID_COLUMNS else value for key, value in pairs}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def insert(conn: sqlite3.Connection, table: str, values: dict[str, Any]) -> int:
    """Insert one row; return its id."""
    cursor = conn.execute(
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks(len(values))})",
        list(values.values()),
    )
    return int(cursor.lastrowid)


def fetch(conn: sqlite3.Connection, table: str, row_id: int) -> dict[str, Any]:
    return row_dict(conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone())


def require(conn: sqlite3.Connection, table: str, row_id: Any, what: str) -> int:
    """``row_id`` as an int, or :class:`CrmError` naming ``what`` if no such row exists."""
    text = str(row_id).strip()
    if not (text.isascii() and text.isdigit()):
        raise CrmError(f"{what} id {row_id!r} is not a valid id (ids are digits)")
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (int(text),)).fetchone() is None:
        raise CrmError(f"{what} {text} does not exist")
    return int(text)


def require_associate(conn: sqlite3.Connection, associate_id: Any, what: str) -> int | None:
    """An optional associate id (an owner, a company's contact) that must exist if given."""
    if associate_id is None:
        return None
    return require(conn, "associates", associate_id, f"{what}: associate")


def applied(conn: sqlite3.Connection, keys: list[str]) -> dict[str, Any]:
    """The stored results of those ``keys`` already in the idempotency ledger."""
    done = {}
    for chunk in chunks(keys):
        rows = conn.execute(f"SELECT key, result FROM applied_keys WHERE key IN ({marks(len(chunk))})", chunk)
        done.update((key, json.loads(result)) for key, result in rows)
    return done


def record_keys(conn: sqlite3.Connection, entries: list[tuple[str, Any]]) -> None:
    """Add ``(key, result)`` entries to the idempotency ledger."""
    conn.executemany(
        "INSERT INTO applied_keys (key, result) VALUES (?, ?)",
        [(key, json.dumps(result)) for key, result in entries],
    )
