"""The ``superoffice`` CRM backend: superflow's CRM contract over the SuperOffice WebAPI.

Reads of many persons are archive (OData) queries — one call per 100 persons for their
fields and company, one for their consents, one for their project memberships — never one
call per person.  Static selection memberships come from the mirror the selection poll
keeps in Redis (SuperOffice sends no webhook for them).

Every write takes the engine's idempotency key and keeps its result in Redis
(:mod:`.ledger`): a write seen again returns the first result and calls nothing.  A create
is marked "pending" before its POST; when a crash came between the POST and the record,
the retry finds the record by the reference superflow wrote into its text instead of
making a second one.  Writes emit the events a local CRM would, at once, and mark them so
that SuperOffice's webhook echo of the same change is not emitted again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import redis

from superflow.crm import CrmBackend, CrmError, Emit, FieldInfo, UnknownField
from superflow.events import Event

from . import mapping
from .client import NotFound, SuperOfficeClient, SuperOfficeError
from .ledger import PREFIX, Ledger

log = logging.getLogger(__name__)

SOURCE = "superoffice"
CHUNK = 100
FOLLOW_UP_TYPES = {"appointment": "AppointmentInDiary", "meeting": "AppointmentInDiary"}
Record = dict[str, Any]


def selection_key(selection_id: str) -> str:
    """The Redis set mirroring a static selection's person members."""
    return f"{PREFIX}:selection:{selection_id}:members"


def reference(idempotency_key: str) -> str:
    """The short reference written into a created record's text to find it again."""
    return "superflow:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


def _ids(values: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if str(v).isdigit()))


def one_of(column: str, ids: list[str]) -> str:
    return f"{column} oneOf({','.join(ids)})"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class SuperOfficeCrm(CrmBackend):
    """SuperOffice CRM (Online or onsite) through its REST WebAPI."""

    name = "superoffice"
    label = "SuperOffice CRM (WebAPI)"

    def __init__(
        self,
        config: Any,
        emit: Emit,
        client: SuperOfficeClient | None = None,
        redis_conn: redis.Redis | None = None,
    ) -> None:
        super().__init__(config, emit)
        self.client = client or SuperOfficeClient(config)
        self.user_fields = mapping.parse_user_fields(config.setting("superoffice_person_fields"))
        self._redis = redis_conn
        self._lists: dict[str, list[Record]] = {}

    # -- plumbing ---------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        """The ledger on the runtime's Redis (the one whose ``emit`` we were given)."""
        if self._redis is None:
            owner = getattr(self.emit, "__self__", None)
            conn = getattr(owner, "redis", None)
            if conn is None:
                from superflow.runtime import current

                conn = current().redis
            self._redis = conn
        return Ledger(self._redis)

    def _emit(self, events: list[Event]) -> None:
        if events:
            self.emit(events)

    def _once(self, key: str | None, work: Callable[[], tuple[Any, list[Event]]]) -> Any:
        done, result = self.ledger.result(key)
        if done:
            return result
        result, events = work()
        self.ledger.record(key, result)
        self._emit(events)
        return result

    def _list(self, name: str) -> list[Record]:
        """A SuperOffice list (``List/Category/Items``), cached for the process."""
        if name not in self._lists:
            items = self.client.get(f"List/{name}/Items", f"list {name}") or []
            self._lists[name] = [{"id": str(i.get("Id")), "name": i.get("Name")} for i in items]
        return self._lists[name]

    def _list_id(self, name: str, value: Any, call: str) -> int | None:
        if value in (None, ""):
            return None
        for item in self._list(name):
            if (
                str(value) in (item["id"], item["name"])
                or str(item["name"]).casefold() == str(value).casefold()
            ):
                return int(item["id"])
        names = ", ".join(str(i["name"]) for i in self._list(name))
        raise CrmError(f"{call}: {value!r} is not in SuperOffice's {name} list ({names})")

    # -- reading ------------------------------------------------------------------
    def get_persons(self, person_ids: Iterable[str]) -> dict[str, Record]:
        """The persons among ``person_ids`` (in the order asked), with company, user
        fields, consents, projects and selections: three archive queries per 100."""
        ids = _ids(person_ids)
        found: dict[str, Record] = {}
        columns = mapping.PERSON_COLUMNS + [f.column for f in self.user_fields]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for row in self.client.query("Person", "get_persons", columns, one_of("personId", chunk)):
                person = mapping.person_from_row(row, self.user_fields)
                found.setdefault(person["id"], person)
            present = [pid for pid in chunk if pid in found]
            if not present:
                continue
            for row in self.client.query(
                "archive/ConsentPerson",
                "get_persons: consents",
                mapping.CONSENT_COLUMNS,
                one_of("personId", present),
            ):
                purpose = str(row.get("consentPurpose/key") or "").lower()
                if purpose and str(row.get("personId")) in found:
                    granted = mapping.consent_granted(row.get("legalBase/key"))
                    found[str(row["personId"])]["consents"][purpose] = granted
            for row in self.client.query(
                "archive/ProjectMember",
                "get_persons: projects",
                ["projectId", "personId"],
                one_of("personId", present),
            ):
                if str(row.get("personId")) in found:
                    found[str(row["personId"])]["projects"].append(str(row["projectId"]))
        self._fill_selections(found)
        return {pid: found[pid] for pid in ids if pid in found}

    def _fill_selections(self, persons: dict[str, Record]) -> None:
        known = sorted(self.ledger.redis.smembers(f"{PREFIX}:selections") or [])
        if not known or not persons:
            return
        pipe = self.ledger.redis.pipeline()
        order = [(sid, pid) for sid in known for pid in persons]
        for sid, pid in order:
            pipe.sismember(selection_key(sid), pid)
        for (sid, pid), member in zip(order, pipe.execute(), strict=True):
            if member:
                persons[pid]["selections"].append(str(sid))

    def list_fields(self) -> list[FieldInfo]:
        """The built-in fields, then the user-defined ones configured in
        ``SUPERFLOW_SUPEROFFICE_PERSON_FIELDS``."""
        extra = [FieldInfo(f.key, f.key.replace("_", " ").capitalize(), f.type) for f in self.user_fields]
        return [*mapping.BUILT_IN, *extra]

    def list_associates(self) -> list[Record]:
        rows = self.client.get("Associate", "list_associates") or []
        return [
            {
                "id": str(a.get("AssociateId")),
                "name": a.get("FullName") or a.get("Name"),
                "email": a.get("EMailAddress") or None,
                "mobile": None,
            }
            for a in rows
            if not a.get("Deleted")
        ]

    def list_selections(self) -> list[Record]:
        rows = self.client.query("Selection", "list_selections", ["selectionId", "name"])
        return [{"id": str(r["selectionId"]), "name": r.get("name")} for r in rows]

    def selection_members(self, selection_id: str) -> list[str]:
        where = f"selectionId eq {int(selection_id)}"
        rows = self.client.query(
            "archive/ContactPersonSelectionV2", "selection_members", ["personId"], where, entities="person"
        )
        return sorted({str(r["personId"]) for r in rows if mapping.id_value(r.get("personId"))}, key=int)

    def members_of(self, selection_id: str, person_ids: Iterable[str]) -> set[str]:
        """Which of ``person_ids`` are members: one archive query per 100 persons."""
        ids = _ids(person_ids)
        members: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            where = f"selectionId eq {int(selection_id)} and {one_of('personId', ids[start : start + CHUNK])}"
            rows = self.client.query(
                "archive/ContactPersonSelectionV2", "members_of", ["personId"], where, entities="person"
            )
            members.update(str(r["personId"]) for r in rows)
        return members & set(ids)

    def list_projects(self) -> list[Record]:
        rows = self.client.query("Project", "list_projects", ["projectId", "name"])
        return [{"id": str(r["projectId"]), "name": r.get("name")} for r in rows]

    def project_members(self, project_id: str) -> list[Record]:
        rows = self.client.query(
            "archive/ProjectMember",
            "project_members",
            ["projectMemberId", "personId", "projectMemberType"],
            f"projectId eq {int(project_id)}",
        )
        return [
            {
                "id": str(r["projectMemberId"]),
                "person_id": str(r["personId"]),
                "member_type": r.get("projectMemberType"),
            }
            for r in rows
        ]

    def list_sales(self, person_id: str) -> list[Record]:
        rows = self.client.query(
            "Sale",
            "list_sales",
            ["saleId", "heading", "amount", "saleType", "status", "probability", "date", "associateId"],
            f"personId eq {int(person_id)}",
        )
        return [
            {
                "id": str(r["saleId"]),
                "person_id": str(person_id),
                "title": r.get("heading"),
                "amount": float(r.get("amount") or 0),
                "sale_type": mapping.list_value(r.get("saleType")),
                "stage": mapping.list_value(r.get("status")),
                "probability": r.get("probability"),
                "expected_date": str(r.get("date") or "")[:10] or None,
                "owner": mapping.id_value(r.get("associateId")),
            }
            for r in rows
        ]

    def list_requests(self, person_id: str) -> list[Record]:
        rows = self.client.query(
            "Ticket",
            "list_requests",
            ["ticketId", "title", "categoryFullName", "priorityName", "ticketStatusName", "createdAt"],
            f"personId eq {int(person_id)}",
        )
        return [
            {
                "id": str(r["ticketId"]),
                "person_id": str(person_id),
                "title": r.get("title"),
                "category": r.get("categoryFullName"),
                "priority": str(r.get("priorityName") or "").lower() or None,
                "status": str(r.get("ticketStatusName") or "").lower() or None,
                "created_at": r.get("createdAt"),
            }
            for r in rows
        ]

    def list_follow_ups(self, associate_id: str, start: str, end: str) -> list[Record]:
        """The associate's diary between ``start`` and ``end`` (their busy times)."""
        rows = self.client.get(
            "Agents/Appointment/GetAssociateDiary",
            "list_follow_ups",
            associateId=int(associate_id),
            startTime=start,
            endTime=end,
            count=500,
        )
        return [
            {
                "id": str(a.get("AppointmentId")),
                "title": (a.get("Description") or "").split("\n")[0],
                "starts_at": a.get("StartDate"),
                "ends_at": a.get("EndDate"),
                "owner": str(associate_id),
            }
            for a in rows or []
        ]

    def list_request_categories(self) -> list[Record]:
        return [
            {"id": c["id"], "name": c["name"], "default_owner": None} for c in self._list("TicketCategory")
        ]

    def shared_addresses(self, addresses: Iterable[str]) -> set[str]:
        """Addresses more than one person has: one archive query per 20 addresses."""
        wanted = sorted({a.strip().lower() for a in addresses if a and "'" not in a})
        shared: set[str] = set()
        for start in range(0, len(wanted), 20):
            chunk = wanted[start : start + 20]
            where = " or ".join(f"email/emailAddress eq {_quote(a)}" for a in chunk)
            owners: dict[str, set[str]] = {}
            for row in self.client.query(
                "Person", "shared_addresses", ["personId", "email/emailAddress"], where
            ):
                address = str(row.get("email/emailAddress") or "").lower()
                owners.setdefault(address, set()).add(str(row["personId"]))
            shared.update(a for a, persons in owners.items() if len(persons) > 1)
        return shared

    def persons_on_dates(self, field: str, dates: Iterable[str], yearly: bool) -> dict[str, str]:
        """Birthdays (``birth_date``) by month and day, or a configured user-defined
        date field by exact date: one archive query per 10 dates."""
        wanted = sorted({d[:10] for d in dates})
        found: dict[str, str] = {}
        user = {f.key: f for f in self.user_fields if f.type in ("date", "datetime")}
        if field != "birth_date" and field not in user:
            raise CrmError(f"persons_on_dates: {field!r} is not a date field of persons")
        for start in range(0, len(wanted), 10):
            chunk = wanted[start : start + 10]
            if field == "birth_date":
                parts = [
                    f"(birthMonth eq {int(d[5:7])} and birthDay eq {int(d[8:10])}"
                    + ("" if yearly else f" and birthYear eq {int(d[:4])}")
                    + ")"
                    for d in chunk
                ]
                columns = ["personId", "birthYear", "birthMonth", "birthDay"]
            else:
                if yearly:
                    raise CrmError(
                        f"persons_on_dates: yearly dates are only available for birth_date, not {field!r}"
                    )
                parts = [f"{user[field].column} eq '{d}'" for d in chunk]
                columns = ["personId", user[field].column]
            for row in self.client.query("Person", "persons_on_dates", columns, " or ".join(parts)):
                value = mapping.birth_date(row) if field == "birth_date" else str(row.get(columns[1]))[:10]
                if value:
                    found[str(row["personId"])] = value
        return found

    # -- changing persons -----------------------------------------------------------
    def update_persons(self, updates: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any]]:
        """Apply each update with a GET and PUT of the PersonEntity (and ContactEntity
        for ``company.*`` keys); keys are checked for all updates before any is written."""
        known = {f.key: f for f in self.list_fields()}
        for pid, changes, _ in updates:
            for key in changes:
                if key not in known:
                    raise UnknownField(
                        f"update_persons: person {pid}: unknown field {key!r}; the fields are:"
                        f" {', '.join(sorted(known))}"
                    )
                if not known[key].writable:
                    raise CrmError(
                        f"update_persons: person {pid}: field {key!r} cannot be changed in SuperOffice"
                    )
        return [self._update_one(str(pid), changes, key) for pid, changes, key in updates]

    def update_person(
        self, person_id: str, changes: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        return self.update_persons([(person_id, changes, idempotency_key)])[0]  # type: ignore[list-item]

    def _update_one(self, pid: str, changes: dict[str, Any], key: str | None) -> dict[str, Any]:
        def work() -> tuple[dict[str, Any], list[Event]]:
            before = self.get_persons([pid]).get(pid)
            if before is None:
                return {}, []
            person_changes = {k: v for k, v in changes.items() if not k.startswith("company.")}
            company_changes = {k[8:]: v for k, v in changes.items() if k.startswith("company.")}
            if person_changes:
                entity = self.client.get(f"Person/{pid}", "update_persons")
                self.client.put(f"Person/{pid}", "update_persons", self._person_body(entity, person_changes))
            company = before.get("company") or {}
            if company_changes:
                if not company.get("id"):
                    raise CrmError(f"update_persons: person {pid} has no company to change")
                entity = self.client.get(f"Contact/{company['id']}", "update_persons")
                body = self._contact_body(entity, company_changes)
                self.client.put(f"Contact/{company['id']}", "update_persons", body)
            old = mapping.flat(before)
            new = {**old, **changes}
            applied = {k: [old.get(k), v] for k, v in changes.items() if old.get(k) != v}
            self.ledger.remember(pid, new)
            if not applied:
                return {}, []
            events = [_event("person.updated", pid, {"changes": applied})]
            company_diff = {k: d for k, d in applied.items() if k.startswith("company.")}
            if company_diff:
                events += self._colleague_events(pid, company["id"], company_diff)
            return applied, events

        return self._once(key, work)

    def _colleague_events(self, pid: str, contact_id: str, company_diff: dict[str, Any]) -> list[Event]:
        rows = self.client.query(
            "Person", "update_persons: colleagues", ["personId"], f"contactId eq {int(contact_id)}"
        )
        others = sorted({str(r["personId"]) for r in rows} - {pid})
        data = {"company_id": str(contact_id), "changes": company_diff}
        return [_event("company.updated", other, data) for other in others]

    def _person_body(self, entity: Record, changes: dict[str, Any]) -> Record:
        body = dict(entity)
        for key, value in changes.items():
            if key == "first_name":
                body["Firstname"] = value
            elif key == "last_name":
                body["Lastname"] = value
            elif key == "email":
                body["Emails"] = _set_first(body.get("Emails"), value)
            elif key == "mobile":
                body["MobilePhones"] = _set_first(body.get("MobilePhones"), value)
            elif key == "birth_date":
                body["BirthDate"] = _date_text(value, "birth_date")
            elif key == "email_blocked":
                body["NoMailing"] = bool(value)
            else:
                field = next(f for f in self.user_fields if f.key == key)
                target = "ExtraFields" if field.prog_id.startswith("x_") else "UserDefinedFields"
                body[target] = {**(body.get(target) or {}), field.prog_id: _udef_text(value)}
        return body

    def _contact_body(self, entity: Record, changes: dict[str, Any]) -> Record:
        body = dict(entity)
        for key, value in changes.items():
            if key == "name":
                body["Name"] = value
            elif key == "category":
                category = self._list_id("Category", value, "update_persons: company.category")
                body["Category"] = None if category is None else {"Id": category}
            elif key == "business":
                business = self._list_id("Business", value, "update_persons: company.business")
                body["Business"] = None if business is None else {"Id": business}
            elif key == "our_contact":
                body["Associate"] = mapping.entity_ref("Associate", value)
        return body

    def set_consent(
        self,
        person_id: str,
        purpose: str,
        granted: bool,
        legal_basis: str | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Grant a consent (legal basis ``legal_basis``, default ``CONSENT``) or withdraw it
        (legal basis ``WITHDRAWN``, as SuperOffice removes consents); emits ``consent.changed``."""

        def work() -> tuple[Record, list[Event]]:
            entity = self.client.get(f"Person/{person_id}", "set_consent")
            consents = [dict(c) for c in entity.get("Consents") or []]
            key = purpose.upper()
            current = next((c for c in consents if str(c.get("ConsentPurposeKey")).upper() == key), None)
            was = current is not None and mapping.consent_granted(current.get("LegalBaseKey"))
            basis = (legal_basis or "CONSENT").upper() if granted else mapping.WITHDRAWN
            if current is None:
                if not granted:
                    record = {"person_id": str(person_id), "purpose": purpose, "granted": False}
                    return record, []
                consents.append(
                    {"ConsentPurposeKey": key, "LegalBaseKey": basis, "ConsentSourceKey": "SYSTEM"}
                )
            else:
                current["LegalBaseKey"] = basis
                current.pop("LegalBaseId", None)
                current.pop("LegalBaseName", None)
            self.client.put(f"Person/{person_id}", "set_consent", {**entity, "Consents": consents})
            record = {
                "person_id": str(person_id),
                "purpose": purpose,
                "granted": granted,
                "legal_basis": basis,
            }
            changed = was != granted
            data = {"purpose": purpose.lower(), "granted": granted}
            if changed:
                self.ledger.first_time(f"consent:{person_id}:{purpose.lower()}:{granted}", ttl=600)
            return record, [_event("consent.changed", person_id, data)] if changed else []

        return self._once(idempotency_key, work)

    def set_subscription(
        self, person_id: str, name: str, subscribed: bool, idempotency_key: str | None = None
    ) -> Record:
        """Select or clear the person's shipment type (email subscription) ``name``."""

        def work() -> tuple[Record, list[Event]]:
            entity = self.client.get(f"Person/{person_id}", "set_subscription")
            types = [dict(t) for t in entity.get("ShipmentTypes") or []]
            match = next((t for t in types if str(t.get("Name")).casefold() == name.casefold()), None)
            if match is None:
                names = ", ".join(str(t.get("Name")) for t in types) or "none"
                raise CrmError(
                    f"set_subscription: SuperOffice has no shipment type {name!r} (it has: {names})"
                )
            was = bool(match.get("Selected"))
            match["Selected"] = subscribed
            self.client.put(f"Person/{person_id}", "set_subscription", {**entity, "ShipmentTypes": types})
            record = {"person_id": str(person_id), "name": name, "subscribed": subscribed}
            data = {"name": name, "subscribed": subscribed}
            return record, [_event("subscription.changed", person_id, data)] if was != subscribed else []

        return self._once(idempotency_key, work)

    # -- selections and projects ---------------------------------------------------------
    def add_to_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        """Add persons to a static selection; emits ``selection.member_added`` for new members."""

        def work() -> tuple[None, list[Event]]:
            ids = _ids(person_ids)
            new = sorted(set(ids) - self.members_of(selection_id, ids), key=int)
            if new:
                body = {
                    "SelectionId": int(selection_id),
                    "ContactIds": [],
                    "PersonIds": [int(p) for p in new],
                }
                self.client.post("Agents/Selection/AddSelectionMembers", "add_to_selection", body)
                self._mirror(selection_id, new, added=True)
            data = {"selection_id": str(selection_id)}
            return None, [_event("selection.member_added", pid, data) for pid in new]

        self._once(idempotency_key, work)

    def remove_from_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        def work() -> tuple[None, list[Event]]:
            ids = _ids(person_ids)
            gone = sorted(self.members_of(selection_id, ids), key=int)
            if gone:
                body = {
                    "SelectionId": int(selection_id),
                    "ContactIds": [],
                    "PersonIds": [int(p) for p in gone],
                }
                self.client.post("Agents/Selection/RemoveSelectionMembers", "remove_from_selection", body)
                self._mirror(selection_id, gone, added=False)
            data = {"selection_id": str(selection_id)}
            return None, [_event("selection.member_removed", pid, data) for pid in gone]

        self._once(idempotency_key, work)

    def _mirror(self, selection_id: str, person_ids: list[str], added: bool) -> None:
        conn = self.ledger.redis
        if not conn.sismember(f"{PREFIX}:selections", str(selection_id)):
            return
        if added:
            conn.sadd(selection_key(str(selection_id)), *person_ids)
        else:
            conn.srem(selection_key(str(selection_id)), *person_ids)

    def add_to_project(
        self,
        project_id: str,
        person_ids: list[str],
        member_type: str | None = None,
        status: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """POST a ProjectMember per person not yet a member; emits ``project.member_added``."""

        def work() -> tuple[None, list[Event]]:
            present = {m["person_id"] for m in self.project_members(project_id)}
            type_id = self._list_id("ProjectMemberType", member_type, "add_to_project: member_type")
            new = [pid for pid in _ids(person_ids) if pid not in present]
            for pid in new:
                body = {"ProjectId": int(project_id), "PersonId": int(pid), "Comment": status or ""}
                if type_id is not None:
                    body["ProjectMemberTypeId"] = type_id
                self.client.post("ProjectMember", "add_to_project", body)
                self.ledger.first_time(f"member:project:{project_id}:{pid}", ttl=600)
            data = {"project_id": str(project_id), "member_type": member_type, "status": status}
            return None, [_event("project.member_added", pid, data) for pid in new]

        self._once(idempotency_key, work)

    def remove_from_project(
        self, project_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        def work() -> tuple[None, list[Event]]:
            wanted = set(_ids(person_ids))
            gone = [m for m in self.project_members(project_id) if m["person_id"] in wanted]
            for member in gone:
                self.client.delete(f"ProjectMember/{member['id']}", "remove_from_project")
            data = {"project_id": str(project_id)}
            return None, [_event("project.member_removed", m["person_id"], data) for m in gone]

        self._once(idempotency_key, work)

    # -- creating records ------------------------------------------------------------------
    def _create(
        self,
        key: str | None,
        kind: str,
        person_id: str,
        post: Callable[[str], Record],
        find: Callable[[str], Record | None],
    ) -> Record:
        """Create once: a retried key returns the first result; a key left "pending" by
        a crash first looks for the record carrying its reference."""

        def work() -> tuple[Record, list[Event]]:
            ref = reference(key) if key else ""
            record = find(ref) if self.ledger.begin(key) and ref else None
            if record is None:
                record = post(ref)
            self.ledger.first_time(f"created:{kind}:{record['id']}")
            return record, [_event(f"{kind}.created", person_id, dict(record))]

        return self._once(key, work)

    def _person_refs(self, person_id: str, call: str) -> tuple[Record, str | None]:
        person = self.get_persons([person_id]).get(str(person_id))
        if person is None:
            raise CrmError(f"{call}: person {person_id} does not exist in SuperOffice")
        return person, (person.get("company") or {}).get("id")

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
        """POST a SaleEntity for the person (and their company); emits ``sale.created``."""
        _, contact = self._person_refs(person_id, "create_sale")
        type_id = self._list_id("SaleType", sale_type, "create_sale: sale_type")

        def post(ref: str) -> Record:
            body = {
                "Heading": title,
                "Amount": amount,
                "Saledate": _date_text(expected_date, "expected_date") if expected_date else None,
                "Probability": probability,
                "Status": "Open" if stage in (None, "", "open") else stage.capitalize(),
                "Person": mapping.entity_ref("Person", person_id),
                "Contact": mapping.entity_ref("Contact", company_id or contact),
                "Associate": mapping.entity_ref("Associate", owner),
                "SaleType": None if type_id is None else {"SaleTypeId": type_id},
                "Description": ref,
            }
            made = self.client.post("Sale", "create_sale", {k: v for k, v in body.items() if v is not None})
            return self._sale(made, person_id, sale_type, stage, owner)

        def find(ref: str) -> Record | None:
            rows = list(
                self.client.query(
                    "Sale",
                    "create_sale: find retried",
                    ["saleId", "heading", "amount"],
                    f"personId eq {int(person_id)} and saleText contains {_quote(ref)}",
                )
            )
            if not rows:
                return None
            made = {
                "SaleId": rows[0]["saleId"],
                "Heading": rows[0].get("heading"),
                "Amount": rows[0].get("amount"),
            }
            made |= {"Probability": probability, "Saledate": expected_date}
            return self._sale(made, person_id, sale_type, stage, owner)

        return self._create(idempotency_key, "sale", person_id, post, find)

    @staticmethod
    def _sale(made: Record, person_id: str, sale_type: str | None, stage: str, owner: str | None) -> Record:
        return {
            "id": str(made["SaleId"]),
            "person_id": str(person_id),
            "title": made.get("Heading"),
            "amount": float(made.get("Amount") or 0),
            "sale_type": sale_type,
            "stage": stage,
            "probability": made.get("Probability"),
            "expected_date": str(made.get("Saledate") or "")[:10] or None,
            "owner": owner,
        }

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
        """POST an AppointmentEntity (in the diary for appointments and meetings, a to-do
        otherwise); its description starts with the title.  Emits ``follow_up.created``."""
        _, contact = self._person_refs(person_id, "create_follow_up")

        def record(made: Record) -> Record:
            return {
                "id": str(made["AppointmentId"]),
                "person_id": str(person_id),
                "title": title,
                "type": type,
                "starts_at": made.get("StartDate") or starts_at,
                "ends_at": made.get("EndDate") or ends_at,
                "owner": owner,
                "description": description,
            }

        def post(ref: str) -> Record:
            text = "\n".join(part for part in (title, description, ref) if part)
            body = {
                "Description": text,
                "StartDate": starts_at,
                "EndDate": ends_at,
                "Type": FOLLOW_UP_TYPES.get(type, "AppointmentForToDo"),
                "Status": "NotStarted",
                "Person": mapping.entity_ref("Person", person_id),
                "Contact": mapping.entity_ref("Contact", contact),
                "Associate": mapping.entity_ref("Associate", owner),
            }
            return record(
                self.client.post("Appointment", "create_follow_up", {k: v for k, v in body.items() if v})
            )

        def find(ref: str) -> Record | None:
            where = f"personId eq {int(person_id)} and text contains {_quote(ref)}"
            rows = list(
                self.client.query("Appointment", "create_follow_up: find retried", ["appointmentId"], where)
            )
            return record({"AppointmentId": rows[0]["appointmentId"]}) if rows else None

        return self._create(idempotency_key, "follow_up", person_id, post, find)

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
        """POST a TicketEntity and its first TicketMessage; emits ``request.created``."""
        self._person_refs(person_id, "create_request")
        category_id = self._list_id("TicketCategory", category, "create_request: category")

        def record(ticket_id: Any) -> Record:
            return {
                "id": str(ticket_id),
                "person_id": str(person_id),
                "title": title,
                "category": category,
                "status": status,
                "priority": priority,
                "owner": owner,
                "first_message": first_message,
            }

        def post(ref: str) -> Record:
            body = {
                "Title": title,
                "Person": mapping.entity_ref("Person", person_id),
                "OwnedBy": mapping.entity_ref("Associate", owner),
                "Category": None if category_id is None else {"TicketCategoryId": category_id},
            }
            ticket = self.client.post(
                "Ticket", "create_request", {k: v for k, v in body.items() if v is not None}
            )
            message = f"{first_message}\n\n{ref}" if ref else first_message
            self.client.post(
                "TicketMessage",
                "create_request: first message",
                {"Ticket": {"TicketId": ticket["TicketId"]}, "Body": message, "Person": body["Person"]},
            )
            return record(ticket["TicketId"])

        def find(ref: str) -> Record | None:
            where = f"personId eq {int(person_id)} and title eq {_quote(title)}"
            rows = self.client.query(
                "Ticket", "create_request: find retried", ["ticketId", "messageBody"], where
            )
            for row in rows:
                if ref in str(row.get("messageBody") or ""):
                    return record(row["ticketId"])
            return None

        return self._create(idempotency_key, "request", person_id, post, find)

    # -- CRMScript ------------------------------------------------------------------------------
    def run_script(
        self, name: str, person_id: str, arguments: dict[str, Any], idempotency_key: str | None = None
    ) -> str:
        """Run the CRMScript with include id ``name`` for the person.  A tenant without
        the CRMScript licence or right answers 401/403: said plainly."""

        def work() -> tuple[str, list[Event]]:
            body = {
                "IncludeId": name,
                "Parameters": {"personId": str(person_id), **{k: str(v) for k, v in arguments.items()}},
            }
            try:
                out = self.client.post("Agents/CRMScript/ExecuteScriptByIncludeId", "run_script", body)
            except SuperOfficeError as exc:
                if exc.status in (401, 403):
                    raise CrmError(
                        f"run_script: this SuperOffice tenant does not let superflow run CRMScripts"
                        f" (needs the CRMScript licence and the system user's right to run scripts): {exc}"
                    ) from None
                if isinstance(exc, NotFound):
                    raise CrmError(
                        f"run_script: SuperOffice has no CRMScript with include id {name!r}"
                    ) from None
                raise
            output = out if isinstance(out, str) else (out or {}).get("Output", "")
            return str(output or "").strip()[:200], []

        return self._once(idempotency_key, work)


def _set_first(items: Any, value: Any) -> list[Record]:
    items = [dict(i) for i in items or []]
    if value in (None, ""):
        return items[1:]
    if items:
        items[0]["Value"] = value
        return items
    return [{"Value": value}]


def _date_text(value: Any, field: str) -> str:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        raise CrmError(f"field {field!r} (date): {value!r} is not valid; expected an ISO date") from None
    return datetime(day.year, day.month, day.day).isoformat()


def _udef_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _event(event_type: str, person_id: Any, data: dict[str, Any]) -> Event:
    return Event(type=event_type, person_id=str(person_id), data=data, source=SOURCE)
