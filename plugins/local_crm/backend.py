"""The ``local`` CRM backend: a small CRM kept in one SQLite file.

Several processes (the web app and the workers) share the file.  WAL journalling lets
readers go on while one process writes, and every write takes the write lock up front
(``BEGIN IMMEDIATE``) so that checking an idempotency key and applying the change
cannot race with another process doing the same.  Events are emitted only after the
transaction committed, so the engine never hears of a change that was rolled back.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from typing import TypeVar

from superflow import CrmBackend
from superflow import CrmError
from superflow import Emit
from superflow import Event
from superflow import FieldInfo
from superflow import Services

from . import db
from .fields import ASSOCIATE_FIELDS
from .fields import COMPANY_COLUMNS
from .fields import COMPANY_FIELDS
from .fields import COMPANY_PREFIX
from .fields import PERSON_COLUMNS
from .fields import PERSON_FIELDS
from .fields import check_argument
from .fields import check_changes
from .fields import check_definition
from .fields import require_bool
from .fields import require_text
from .persons import Person
from .persons import company_dict
from .persons import extra_fields
from .persons import load_persons
from .persons import membership
from .updates import UpdatePlan

SOURCE = "local_crm"
BUSY_TIMEOUT_SECONDS = 30.0

Record = dict[str, Any]
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], tuple[T, list[Event]]]


def database_path(config: Any) -> Path:
    """``SUPERFLOW_LOCAL_CRM_PATH`` if set, else ``crm.sqlite`` in the data folder."""
    override = config.setting("local_crm_path")
    path = Path(override) if override else Path(config.data_dir) / "crm.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class LocalCrm(CrmBackend):
    """An embedded CRM: persons, companies, selections, projects, sales and the rest.

    Every write takes an optional ``idempotency_key``; a key seen before returns what
    the first call returned and changes nothing.  Every change emits, once per call and
    after commit, the events a real CRM's webhooks would send.
    """

    name = "local"
    label = "Local CRM (embedded SQLite)"

    def __init__(self, config: Any, emit: Emit, services: Services | None = None) -> None:
        super().__init__(config, emit, services)
        self.path = database_path(config)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._schema_ready = False

    # -- connections and transactions ---------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """This thread's connection: sqlite3 connections must not be shared by threads."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            if not self._schema_ready:
                schema = resources.files(__package__).joinpath("schema.sql").read_text()
                conn.executescript(f"BEGIN IMMEDIATE;\n{schema}\nCOMMIT;")
                self._schema_ready = True
            self._connections.append(conn)
        return conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction, so the queries of one call see one snapshot."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def import_transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for bulk import (seeding): what is written through the
        connection emits no events and is not recorded in the idempotency ledger."""
        with self._writing() as conn:
            yield conn

    def _write_once(self, idempotency_key: str | None, work: Work[T]) -> T:
        """Run ``work`` in a write transaction unless ``idempotency_key`` was applied
        before; record the key with the result, then emit the events after commit."""
        with self._writing() as conn:
            if idempotency_key is not None:
                done = db.applied(conn, [idempotency_key])
                if idempotency_key in done:
                    return done[idempotency_key]
            result, events = work(conn)
            if idempotency_key is not None:
                db.record_keys(conn, [(idempotency_key, result)])
        self._emit(events)
        return result

    def _emit(self, events: list[Event]) -> None:
        if events:
            self.emit(events)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._local = threading.local()

    # -- reading ------------------------------------------------------------
    def get_persons(self, person_ids: Iterable[str]) -> dict[str, Person]:
        """The persons that exist among ``person_ids``, keyed by id, in the order asked.

        A person without a company has ``"company": None``; ``selections`` and
        ``projects`` list the ids of those the person is a member of.  Costs one query
        for the field definitions and four per 500 ids, however many consents,
        subscriptions, selections and projects the persons have.
        """
        ids = db.int_ids(person_ids)
        if not ids:
            return {}
        with self._reading() as conn:
            return load_persons(conn, ids)

    def existing_persons(self, person_ids: Iterable[str]) -> set[str]:
        """One query on the persons' ids per 500, nothing else read."""
        ids = db.int_ids(person_ids)
        found: set[str] = set()
        with self._reading() as conn:
            for chunk in db.chunks(ids):
                rows = conn.execute(f"SELECT id FROM persons WHERE id IN ({db.marks(len(chunk))})", chunk)
                found.update(str(row[0]) for row in rows)
        return found

    def list_fields(self) -> list[FieldInfo]:
        """Built-in person fields, then company fields (``company.*``), then extra fields."""
        with self._reading() as conn:
            extra = extra_fields(conn)
        return [*PERSON_FIELDS, *COMPANY_FIELDS, *extra]

    def get_company(self, company_id: str) -> Record | None:
        """The company and its persons' ids: two queries."""
        (cid,) = db.int_ids([company_id]) or (None,)
        if cid is None:
            return None
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM companies WHERE id = ?", (cid,)).fetchone()
            if row is None:
                return None
            company_keys = [
                f.key.removeprefix(COMPANY_PREFIX) for f in extra_fields(conn) if f.entity == "company"
            ]
            persons = conn.execute("SELECT id FROM persons WHERE company_id = ? ORDER BY id", (cid,))
            return company_dict(row, company_keys) | {"person_ids": [str(r[0]) for r in persons]}

    def person_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id FROM persons WHERE id > ? ORDER BY id LIMIT ?", (int(after or 0), int(limit))
            )
            return [str(row[0]) for row in rows]

    def list_selections(self) -> list[dict[str, Any]]:
        rows = self._connection().execute("SELECT id, name FROM selections ORDER BY id")
        return [db.row_dict(row) for row in rows]

    def selection_members(self, selection_id: str) -> list[str]:
        with self._reading() as conn:
            sid = db.require(conn, "selections", selection_id, "selection")
            rows = conn.execute(
                "SELECT person_id FROM selection_members WHERE selection_id = ? ORDER BY person_id",
                (sid,),
            )
            return [str(row[0]) for row in rows]

    def members_of(self, selection_id: str, person_ids: Iterable[str]) -> set[str]:
        ids = db.int_ids(person_ids)
        with self._reading() as conn:
            sid = db.require(conn, "selections", selection_id, "selection")
            members = membership(conn, "selection_members", "selection_id", sid, ids)
        return {str(pid) for pid, member in members.items() if member}

    def list_associates(self) -> list[Record]:
        rows = self._connection().execute("SELECT * FROM associates ORDER BY id")
        return [db.row_dict(row) for row in rows]

    def list_projects(self) -> list[Record]:
        rows = self._connection().execute("SELECT id, name FROM projects ORDER BY id")
        return [db.row_dict(row) for row in rows]

    def project_members(self, project_id: str) -> list[Record]:
        """``[{"person_id", "member_type", "status"}, ...]`` of a project."""
        with self._reading() as conn:
            pid = db.require(conn, "projects", project_id, "project")
            rows = conn.execute(
                "SELECT person_id, member_type, status FROM project_members"
                " WHERE project_id = ? ORDER BY person_id",
                (pid,),
            )
            return [db.row_dict(row) for row in rows]

    def list_sales(self, person_id: str) -> list[Record]:
        """The person's sales, oldest first (none for a person that does not exist)."""
        ids = db.int_ids([person_id])
        if not ids:
            return []
        rows = self._connection().execute("SELECT * FROM sales WHERE person_id = ? ORDER BY id", ids)
        return [db.row_dict(row) for row in rows]

    def list_requests(self, person_id: str) -> list[Record]:
        """The person's customer-service requests, oldest first."""
        ids = db.int_ids([person_id])
        if not ids:
            return []
        rows = self._connection().execute("SELECT * FROM requests WHERE person_id = ? ORDER BY id", ids)
        return [db.row_dict(row) for row in rows]

    def list_follow_ups(self, associate_id: str, start: str, end: str) -> list[Record]:
        """The follow-ups owned by an associate that overlap ``[start, end)`` (ISO date
        and time with an offset), in order of their start: the associate's calendar.
        A follow-up without an end takes no time and is left out."""
        check_argument("list_follow_ups", "start", "datetime", start)
        check_argument("list_follow_ups", "end", "datetime", end)
        ids = db.int_ids([associate_id])
        if not ids:
            return []
        rows = self._connection().execute(
            "SELECT * FROM follow_ups WHERE owner = ? AND starts_at IS NOT NULL AND ends_at IS NOT NULL"
            " AND julianday(starts_at) < julianday(?) AND julianday(ends_at) > julianday(?)"
            " ORDER BY julianday(starts_at), id",
            (ids[0], end, start),
        )
        return [db.row_dict(row) for row in rows]

    def list_request_categories(self) -> list[Record]:
        """``[{"id", "name", "default_owner"}, ...]``: who new requests of a category go to."""
        rows = self._connection().execute(
            "SELECT id, name, default_owner FROM request_categories ORDER BY id"
        )
        return [db.row_dict(row) for row in rows]

    def find_person_by_email(self, email: str) -> Person | None:
        """The person (lowest id) with this email address, ignoring case."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT id FROM persons WHERE email = ? COLLATE NOCASE ORDER BY id LIMIT 1",
                (email.strip(),),
            ).fetchone()
            return None if row is None else load_persons(conn, [row[0]])[str(row[0])]

    def search_persons(self, text: str, offset: int = 0, limit: int = 25) -> list[Person]:
        """Persons whose name, email address or id matches ``text`` (ignoring case; a
        part of a name or address is enough), ordered by name then id, ``limit`` of
        them from ``offset``: the admin's People search."""
        words = text.split()
        if not words or limit < 1:
            return []
        clauses, params = [], []
        for word in words[:5]:
            like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(
                "(first_name LIKE ? ESCAPE '\\' OR last_name LIKE ? ESCAPE '\\'"
                " OR email LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?)"
            )
            params += [like, like, like, word]
        query = (
            f"SELECT id FROM persons WHERE {' AND '.join(clauses)}"
            " ORDER BY lower(coalesce(first_name, '')), lower(coalesce(last_name, '')), id"
            " LIMIT ? OFFSET ?"
        )
        with self._reading() as conn:
            ids = [row[0] for row in conn.execute(query, [*params, int(limit), max(0, int(offset))])]
            return list(load_persons(conn, ids).values()) if ids else []

    def shared_addresses(self, addresses: Iterable[str]) -> set[str]:
        """Which of these email addresses (lower case) more than one person has."""
        wanted = sorted({a.strip().lower() for a in addresses if a})
        shared: set[str] = set()
        with self._reading() as conn:
            for chunk in db.chunks(wanted):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT lower(email) FROM persons WHERE email COLLATE NOCASE IN ({marks})"
                    " GROUP BY lower(email) HAVING count(*) > 1",
                    chunk,
                )
                shared.update(row[0] for row in rows)
        return shared

    def persons_on_dates(self, field: str, dates: Iterable[str], yearly: bool) -> dict[str, str]:
        """Persons whose date ``field`` (``birth_date`` or an extra date field) is one
        of ``dates`` (``YYYY-MM-DD``) — or, ``yearly``, falls on their month and day
        in any year.  ``{person_id: stored value}``; an index makes it cost the persons
        found, not all persons."""
        info = {f.key: f for f in self.list_fields() if f.entity == "person"}.get(field)
        if info is None or info.type not in ("date", "datetime"):
            raise CrmError(f"persons_on_dates: {field!r} is not a date field of persons")
        column = field if field == "birth_date" else f"json_extract(fields, '$.{field}')"
        self._date_index(column, field)
        wanted = sorted({d[5:10] if yearly else d[:10] for d in dates})
        if not wanted:
            return {}
        part = f"substr({column}, 6, 5)" if yearly else f"substr({column}, 1, 10)"
        marks = ",".join("?" * len(wanted))
        query = f"SELECT id, {column} FROM persons WHERE {part} IN ({marks})"
        rows = self._connection().execute(query, wanted)
        return {str(pid): str(value) for pid, value in rows}

    def _date_index(self, column: str, field: str) -> None:
        with self._lock:
            made = self.__dict__.setdefault("_date_indexes", set())
            if field in made:
                return
            conn = self._connection()
            for name, start, length in (("md", 6, 5), ("day", 1, 10)):
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS persons_{name}_{field}"
                    f" ON persons (substr({column}, {start}, {length}))"
                )
            made.add(field)

    def count_persons(self) -> int:
        return self._connection().execute("SELECT count(*) FROM persons").fetchone()[0]

    # -- changing persons ---------------------------------------------------
    def update_persons(self, updates: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any]]:
        """Apply ``(person_id, changes, idempotency_key)`` updates in one transaction.

        Every key and value is checked before anything is written: an unknown key
        raises :class:`UnknownField`, a value of the wrong type :class:`CrmError`, and
        then no update is applied.  ``company.*`` keys change the person's company.
        Returns, per update, ``{field: [old, new]}`` of what changed; an update whose
        person does not exist changes nothing and returns ``{}``.
        """
        return [changes or {} for changes in self._update(updates, "update_persons")]

    def update_person(
        self, person_id: str, changes: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """One person's :meth:`update_persons`; raises :class:`CrmError` if it does not exist."""
        (result,) = self._update([(person_id, changes, idempotency_key)], "update_person")
        if result is None:
            raise CrmError(f"update_person: person {person_id} does not exist")
        return result

    def _update(
        self, updates: Sequence[tuple[str, dict[str, Any], str | None]], call: str
    ) -> list[dict[str, Any] | None]:
        if not updates:
            return []
        fields = {f.key: f for f in self.list_fields()}
        checked = [
            (str(pid), check_changes(f"{call}: person {pid}", changes, fields), key)
            for pid, changes, key in updates
        ]
        with self._writing() as conn:
            plan = UpdatePlan(conn, checked, call)
            results = plan.apply()
            colleagues = self._colleagues(conn, plan.changed)
        events = [_event("person.updated", pid, {"changes": diff}) for pid, diff in plan.changed]
        events += [_event("company.updated", pid, data) for pid, data in colleagues]
        self._emit(events)
        return results

    def _colleagues(
        self, conn: sqlite3.Connection, changed: list[tuple[str, dict[str, Any]]]
    ) -> list[tuple[str, dict[str, Any]]]:
        """A company field changed through one person changed it for everyone at the
        company: ``company.updated`` for each of the others, as a CRM webhook would."""
        found = []
        for pid, diff in changed:
            company_diff = {k: v for k, v in diff.items() if k.startswith("company.")}
            if not company_diff:
                continue
            rows = conn.execute(
                "SELECT others.id, others.company_id FROM persons AS me"
                " JOIN persons AS others ON others.company_id = me.company_id AND others.id != me.id"
                " WHERE me.id = ?",
                (int(pid),),
            ).fetchall()
            found += [(str(other), {"company_id": str(cid), "changes": company_diff}) for other, cid in rows]
        return found

    def create_person(self, idempotency_key: str | None = None, **fields: Any) -> Person:
        """Create a person from field keys (built-in and extra) and ``company_id``;
        returns the person dict and emits ``person.created``."""
        company_id = fields.pop("company_id", None)
        known = {f.key: f for f in self.list_fields() if f.entity == "person"}
        checked = check_changes("create_person", fields, known)

        def work(conn: sqlite3.Connection) -> tuple[Person, list[Event]]:
            company = None
            if company_id is not None:
                company = db.require(conn, "companies", company_id, "create_person: company")
            columns = {key: checked.get(key) for key in PERSON_COLUMNS}
            columns["email_blocked"] = bool(columns["email_blocked"])
            extra = {key: value for key, value in checked.items() if key not in columns}
            stamp = db.now()
            new_id = db.insert(
                conn,
                "persons",
                {
                    **columns,
                    "company_id": company,
                    "fields": json.dumps(extra),
                    "created_at": stamp,
                    "updated_at": stamp,
                },
            )
            person = load_persons(conn, [new_id])[str(new_id)]
            return person, [_event("person.created", new_id, {})]

        return self._write_once(idempotency_key, work)

    def set_consent(
        self,
        person_id: str,
        purpose: str,
        granted: bool,
        legal_basis: str | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Grant or withdraw a consent; emits ``consent.changed`` when ``granted`` changes."""
        require_text("set_consent: purpose", purpose)
        require_bool("set_consent: granted", granted)

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            pid = db.require(conn, "persons", person_id, "set_consent: person")
            before = conn.execute(
                "SELECT granted FROM consents WHERE person_id = ? AND purpose = ?", (pid, purpose)
            ).fetchone()
            record = {
                "person_id": str(pid),
                "purpose": purpose,
                "granted": granted,
                "legal_basis": legal_basis,
                "updated_at": db.now(),
            }
            conn.execute(
                "INSERT INTO consents (person_id, purpose, granted, legal_basis, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (person_id, purpose) DO UPDATE SET"
                " granted = excluded.granted, legal_basis = excluded.legal_basis,"
                " updated_at = excluded.updated_at",
                (pid, purpose, granted, legal_basis, record["updated_at"]),
            )
            changed = before is None or bool(before[0]) != granted
            data = {"purpose": purpose, "granted": granted}
            return record, [_event("consent.changed", pid, data)] if changed else []

        return self._write_once(idempotency_key, work)

    def set_subscription(
        self, person_id: str, name: str, subscribed: bool, idempotency_key: str | None = None
    ) -> Record:
        """Subscribe or unsubscribe; emits ``subscription.changed`` when it changes."""
        require_text("set_subscription: name", name)
        require_bool("set_subscription: subscribed", subscribed)

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            pid = db.require(conn, "persons", person_id, "set_subscription: person")
            before = conn.execute(
                "SELECT subscribed FROM subscriptions WHERE person_id = ? AND name = ?",
                (pid, name),
            ).fetchone()
            record = {
                "person_id": str(pid),
                "name": name,
                "subscribed": subscribed,
                "updated_at": db.now(),
            }
            conn.execute(
                "INSERT INTO subscriptions (person_id, name, subscribed, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (person_id, name) DO UPDATE SET"
                " subscribed = excluded.subscribed, updated_at = excluded.updated_at",
                (pid, name, subscribed, record["updated_at"]),
            )
            changed = before is None or bool(before[0]) != subscribed
            data = {"name": name, "subscribed": subscribed}
            return record, [_event("subscription.changed", pid, data)] if changed else []

        return self._write_once(idempotency_key, work)

    # -- selections and projects --------------------------------------------
    def create_selection(self, name: str, idempotency_key: str | None = None) -> Record:
        return self._create_named("selection", name, idempotency_key)

    def add_to_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        """Add persons; emits ``selection.member_added`` for each one not already a member.
        Ids of persons that do not exist are skipped."""
        self._add_members("selection", selection_id, person_ids, {}, idempotency_key)

    def remove_from_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        """Remove persons; emits ``selection.member_removed`` for each one that was a member."""
        self._remove_members("selection", selection_id, person_ids, idempotency_key)

    def create_project(self, name: str, idempotency_key: str | None = None) -> Record:
        return self._create_named("project", name, idempotency_key)

    def _create_named(self, kind: str, name: str, idempotency_key: str | None) -> Record:
        """A new selection or project: a row of ``{kind}s`` that has only a name."""
        require_text(f"create_{kind}: name", name)

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            new_id = db.insert(conn, f"{kind}s", {"name": name})
            return {"id": str(new_id), "name": name}, []

        return self._write_once(idempotency_key, work)

    def add_to_project(
        self,
        project_id: str,
        person_ids: list[str],
        member_type: str | None = None,
        status: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Add persons as project members; emits ``project.member_added`` (with the
        ``project_id``, ``member_type`` and ``status``) for new members."""
        extra = {"member_type": member_type, "status": status}
        self._add_members("project", project_id, person_ids, extra, idempotency_key)

    def remove_from_project(
        self, project_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        self._remove_members("project", project_id, person_ids, idempotency_key)

    def _add_members(
        self,
        kind: str,
        owner_id: str,
        person_ids: list[str],
        extra: dict[str, Any],
        idempotency_key: str | None,
    ) -> None:
        table, column = f"{kind}_members", f"{kind}_id"
        ids = db.int_ids(person_ids)

        def work(conn: sqlite3.Connection) -> tuple[None, list[Event]]:
            owner = db.require(conn, f"{kind}s", owner_id, kind)
            members = membership(conn, table, column, owner, ids)
            new = [pid for pid, member in members.items() if not member]
            names = ", ".join([column, "person_id", *extra])
            marks = db.marks(2 + len(extra))
            conn.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",
                [(owner, pid, *extra.values()) for pid in new],
            )
            data = {column: str(owner), **extra}
            return None, [_event(f"{kind}.member_added", pid, data) for pid in new]

        self._write_once(idempotency_key, work)

    def _remove_members(
        self, kind: str, owner_id: str, person_ids: list[str], idempotency_key: str | None
    ) -> None:
        table, column = f"{kind}_members", f"{kind}_id"
        ids = db.int_ids(person_ids)

        def work(conn: sqlite3.Connection) -> tuple[None, list[Event]]:
            owner = db.require(conn, f"{kind}s", owner_id, kind)
            members = membership(conn, table, column, owner, ids)
            gone = [pid for pid, member in members.items() if member]
            conn.executemany(
                f"DELETE FROM {table} WHERE {column} = ? AND person_id = ?",
                [(owner, pid) for pid in gone],
            )
            data = {column: str(owner)}
            return None, [_event(f"{kind}.member_removed", pid, data) for pid in gone]

        self._write_once(idempotency_key, work)

    # -- other records --------------------------------------------------------
    def create_associate(
        self,
        name: str,
        email: str | None = None,
        mobile: str | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """An associate is one of our users: a company's contact, a sale's owner."""
        require_text("create_associate: name", name)
        values = {
            "name": name,
            "email": check_argument("create_associate", "email", "text", email),
            "mobile": check_argument("create_associate", "mobile", "text", mobile),
        }

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            return db.fetch(conn, "associates", db.insert(conn, "associates", values)), []

        return self._write_once(idempotency_key, work)

    def create_company(
        self,
        name: str,
        category: str | None = None,
        business: str | None = None,
        our_contact: str | None = None,
        our_service_contact: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Record:
        """Create a company; ``fields`` sets company extra fields by key (without
        ``company.``).  Returns the company as it appears in a person's ``company``."""
        require_text("create_company: name", name)
        known = {f.key: f for f in self.list_fields() if f.entity == "company"}
        given = {
            "company.name": name,
            "company.category": category,
            "company.business": business,
            "company.our_contact": our_contact,
            "company.our_service_contact": our_service_contact,
            **{COMPANY_PREFIX + key: value for key, value in fields.items()},
        }
        checked = check_changes("create_company", given, known)
        values = {key.removeprefix(COMPANY_PREFIX): value for key, value in checked.items()}
        columns = {key: values[key] for key in COMPANY_COLUMNS}
        extra = {key: value for key, value in values.items() if key not in columns}

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            for key in ASSOCIATE_FIELDS:
                db.require_associate(conn, checked[key], f"create_company: {key}")
            new_id = db.insert(conn, "companies", {**columns, "fields": json.dumps(extra)})
            row = conn.execute("SELECT * FROM companies WHERE id = ?", (new_id,)).fetchone()
            return company_dict(row, list(extra)), []

        return self._write_once(idempotency_key, work)

    def create_sale(
        self,
        person_id: str,
        title: str,
        amount: float = 0.0,
        *,
        sale_type: str | None = None,
        stage: str = "open",
        probability: int | None = None,
        expected_date: str | None = None,
        owner: str | None = None,
        company_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Register a sale for a person (and by default the person's company);
        emits ``sale.created`` with the sale as data."""
        require_text("create_sale: title", title)
        check_argument("create_sale", "amount", "number", amount)
        check_argument("create_sale", "probability", "number", probability)
        expected_date = check_argument("create_sale", "expected_date", "date", expected_date)
        values = {
            "title": title,
            "sale_type": sale_type,
            "amount": amount,
            "stage": stage,
            "probability": probability,
            "expected_date": expected_date,
        }

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            pid = db.require(conn, "persons", person_id, "create_sale: person")
            if company_id is None:
                query = conn.execute("SELECT company_id FROM persons WHERE id = ?", (pid,))
                company = query.fetchone()[0]
            else:
                company = db.require(conn, "companies", company_id, "create_sale: company")
            row = {**values, "company_id": company}
            return _create_for_person(conn, "sales", "sale.created", pid, owner, row)

        return self._write_once(idempotency_key, work)

    def create_follow_up(
        self,
        person_id: str,
        title: str,
        type: str = "task",
        *,
        starts_at: str | None = None,
        ends_at: str | None = None,
        owner: str | None = None,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> Record:
        """Create an appointment, task, phone call... for a person; emits
        ``follow_up.created`` with the follow-up as data."""
        require_text("create_follow_up: title", title)
        require_text("create_follow_up: type", type)
        values = {
            "title": title,
            "type": type,
            "starts_at": check_argument("create_follow_up", "starts_at", "datetime", starts_at),
            "ends_at": check_argument("create_follow_up", "ends_at", "datetime", ends_at),
            "description": description,
        }

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            pid = db.require(conn, "persons", person_id, "create_follow_up: person")
            return _create_for_person(conn, "follow_ups", "follow_up.created", pid, owner, values)

        return self._write_once(idempotency_key, work)

    def create_request(
        self,
        person_id: str,
        title: str,
        *,
        category: str | None = None,
        status: str = "open",
        priority: str = "normal",
        owner: str | None = None,
        first_message: str = "",
        idempotency_key: str | None = None,
    ) -> Record:
        """Open a customer-service request for a person; emits ``request.created``."""
        require_text("create_request: title", title)
        values = {
            "title": title,
            "category": category,
            "status": status,
            "priority": priority,
            "first_message": first_message,
        }

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            pid = db.require(conn, "persons", person_id, "create_request: person")
            return _create_for_person(conn, "requests", "request.created", pid, owner, values)

        return self._write_once(idempotency_key, work)

    def create_request_category(
        self, name: str, default_owner: str | None = None, idempotency_key: str | None = None
    ) -> Record:
        """A request category; ``default_owner`` is the associate its new requests go to
        when a flow assigns them by category.  Names are unique."""
        require_text("create_request_category: name", name)

        def work(conn: sqlite3.Connection) -> tuple[Record, list[Event]]:
            owner = db.require_associate(conn, default_owner, "create_request_category: default_owner")
            taken = conn.execute("SELECT 1 FROM request_categories WHERE name = ?", (name,)).fetchone()
            if taken is not None:
                raise CrmError(f"create_request_category: there is already a category named {name!r}")
            values = {"name": name, "default_owner": owner}
            return db.fetch(conn, "request_categories", db.insert(conn, "request_categories", values)), []

        return self._write_once(idempotency_key, work)

    def define_field(
        self,
        key: str,
        label: str,
        type: str,
        entity: str = "person",
        choices: Iterable[str] = (),
    ) -> FieldInfo:
        """Define (or redefine) an extra field.  A company field is then addressed as
        ``company.<key>`` and appears in a person's ``company`` dict."""
        choices = tuple(choices)
        check_definition(key, type, entity, choices)
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO field_definitions (key, label, type, entity, choices, position)"
                " VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(position), 0) + 1"
                " FROM field_definitions))"
                " ON CONFLICT (key) DO UPDATE SET label = excluded.label, type = excluded.type,"
                " entity = excluded.entity, choices = excluded.choices",
                (key, label, type, entity, json.dumps(list(choices))),
            )
        prefix = COMPANY_PREFIX if entity == "company" else ""
        return FieldInfo(prefix + key, label, type, entity=entity, choices=choices)


def _create_for_person(
    conn: sqlite3.Connection,
    table: str,
    event_type: str,
    person_id: int,
    owner: str | None,
    values: dict[str, Any],
) -> tuple[Record, list[Event]]:
    """Create a sale, follow-up or request of a person; return it and its event."""
    call = "create_" + event_type.removesuffix(".created")
    row = {
        **values,
        "person_id": person_id,
        "owner": db.require_associate(conn, owner, f"{call}: owner"),
        "created_at": db.now(),
    }
    record = db.fetch(conn, table, db.insert(conn, table, row))
    return record, [_event(event_type, person_id, dict(record))]


def _event(event_type: str, person_id: Any, data: dict[str, Any]) -> Event:
    return Event(type=event_type, person_id=str(person_id), data=data, source=SOURCE)
