"""The ``superoffice`` CRM backend: superflow's CRM contract over the SuperOffice WebAPI.

Reads of many persons are archive (OData) queries — per 100 persons one call for their
fields and company (``Person``), one for their consents (``Archive/ConsentPurpose``), one
for their project memberships (``Archive/ProjectMember``) and one for their email
subscriptions (``Archive/Dynamic`` on ``shipmenttypereservation``) — never one call per
person.  Selection memberships come from the mirror the selection poll keeps in Redis
(SuperOffice sends no webhook for them).

Every call is documented in docs/superoffice.md with the page of SuperOffice's WebAPI
reference it was checked against (paths below are in github.com/SuperOfficeDocs/superoffice-docs).

Every write takes the engine's idempotency key and keeps its result in Redis
(:mod:`.ledger`): a write seen again returns the first result and calls nothing.  A create
is marked "pending" before its POST; when a crash came between the POST and the record,
the retry finds the record by the reference superflow wrote into its text instead of
making a second one.  Writes emit the events a local CRM would, at once, and mark them so
that SuperOffice's webhook echo of the same change is not emitted again.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable
from collections.abc import Iterable
from datetime import UTC
from datetime import date
from datetime import datetime
from typing import Any

from superflow import CrmBackend
from superflow import CrmError
from superflow import Emit
from superflow import Event
from superflow import FieldInfo
from superflow import PluginStore
from superflow import Services
from superflow import UnknownField

from . import mapping
from .client import NotFound
from .client import SuperOfficeClient
from .client import SuperOfficeError
from .ledger import NAMESPACE
from .ledger import Ledger

log = logging.getLogger(__name__)

SOURCE = "superoffice"
CHUNK = 100
# AppointmentEntity.Type values (the AppointmentType enum: inDiary, inChecklist, Note,
# Document, ...); docs/en/api/reference/restful/rest/Appointment/v1AppointmentEntity_PostAppointmentEntity.md
FOLLOW_UP_TYPES = {"appointment": "inDiary", "meeting": "inDiary"}
TO_DO = "inChecklist"
# Lists by name: where to read them and which key holds the id.  Category and Business
# items carry "Id", SaleType items "SaleTypeId", TicketCategory items "TicketCategoryId"
# (docs/en/api/reference/restful/rest/List_*/...GetAll*.md); project member types are the
# MDO list "PMembType" (ProjectMember.ProjectMemberTypeId, .../rest/ProjectMember/...).
LISTS: dict[str, tuple[str, str]] = {
    "Category": ("List/Category/Items", "Id"),
    "Business": ("List/Business/Items", "Id"),
    "SaleType": ("List/SaleType/Items", "SaleTypeId"),
    "TicketCategory": ("List/TicketCategory/Items", "TicketCategoryId"),
    "ProjectMemberType": ("MDOList/PMembType?flat=True", "Id"),
    "ShipmentType": ("List/ShipmentType/Items", "Id"),
}
# ProjectMember archive: members of retired persons and of stopped companies are left out
# unless these entities are asked for (docs/en/api/archive-providers/reference/projectmember.md).
PROJECT_MEMBER_ENTITIES = "projectMember,retired,stop"
# PUT Person/{id}/Consent/{purpose} needs a source key and a legal base key.  "USER" is
# the documented hard default source (GDPR preferences, DefaultSourceKey); the legal base
# keys are the tenant's own (the page's examples are '61A', '61B', '61F').
CONSENT_SOURCE = "USER"
DEFAULT_LEGAL_BASE = "CONSENT"
Record = dict[str, Any]


def selection_key(store: PluginStore, selection_id: str) -> str:
    """The Redis set mirroring a static selection's person members."""
    return store.key("selection", selection_id, "members")


def reference(idempotency_key: str) -> str:
    """The short reference written into a created record's text to find it again."""
    return "superflow:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


def _ids(values: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if str(v).isdigit()))


def in_ids(column: str, ids: list[str]) -> str:
    """``personId in (17,18)``: the form SuperOffice's own REST samples use for int id
    columns (``oneOf (..)`` is the operator of list columns, see restriction-types.md)."""
    return f"{column} in ({','.join(ids)})"


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
        services: Services | None = None,
        client: SuperOfficeClient | None = None,
    ) -> None:
        super().__init__(config, emit, services)
        self.client = client or SuperOfficeClient(config)
        self.user_fields = mapping.parse_user_fields(config.setting("superoffice_person_fields"))
        self._lists: dict[str, list[Record]] = {}
        self._tz: Record | None = None

    # -- plumbing ---------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        """The ledger in the plugin store of the services we were built with."""
        if self.services is None:
            raise CrmError("the SuperOffice backend needs the services (its ledger is in their plugin store)")
        return Ledger(self.services.plugin_store(NAMESPACE))

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
        """A SuperOffice list (``List/Category/Items`` ...), cached for the process."""
        if name not in self._lists:
            path, id_key = LISTS[name]
            items = self.client.get(path, f"list {name}") or []
            self._lists[name] = [
                {"id": str(i.get(id_key, i.get("Id"))), "name": i.get("Name") or i.get("Fullname")}
                for i in items
                if not i.get("Deleted")
            ]
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
    def person_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        """Person ids in id order after ``after``: ``GET Person`` with ``$filter=personId
        gt N`` and ``$orderBy=personId asc`` (both documented:
        docs/en/api/reference/restful/rest/Person/v1PersonEntity_GetAll.md); pages of
        500 are fetched only as far as ``limit`` needs."""
        where = f"personId gt {int(after)}" if after else ""
        rows = self.client.query("Person", "person_ids", ["personId"], where, order_by="personId asc")
        return [str(mapping.id_value(row["personId"])) for row in itertools.islice(rows, limit)]

    def get_company(self, company_id: str) -> Record | None:
        """The company (SuperOffice's "contact") and its persons' ids: ``GET Contact/{id}``
        (.../rest/Contact/v1ContactEntity_GetContactEntity.md; 404 for no such company)
        and the ``Person`` archive on ``contactId`` (one call per 500 persons)."""
        cid = int(company_id)
        try:
            entity = self.client.get(f"Contact/{cid}", "get_company")
        except NotFound:
            return None
        rows = self.client.query(
            "Person", "get_company", ["personId"], f"contactId eq {cid}", order_by="personId asc"
        )
        return {
            "id": str(cid),
            "name": entity.get("Name") or None,
            "person_ids": [p for row in rows if (p := mapping.id_value(row.get("personId")))],
        }

    def existing_persons(self, person_ids: Iterable[str]) -> set[str]:
        """One ``GET Person`` of the ``personId`` column per 100 ids (the four queries
        of :meth:`get_persons` are for flows, not for the event API's check)."""
        ids = _ids(person_ids)
        found: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = self.client.query("Person", "existing_persons", ["personId"], in_ids("personId", chunk))
            for row in rows:
                found.add(str(mapping.id_value(row["personId"])))
        return found

    def get_persons(self, person_ids: Iterable[str]) -> dict[str, Record]:
        """The persons among ``person_ids`` (in the order asked), with company, user
        fields, consents, subscriptions, projects and selections: four archive queries
        per 100 persons."""
        ids = _ids(person_ids)
        found: dict[str, Record] = {}
        columns = mapping.PERSON_COLUMNS + [f.column for f in self.user_fields]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            # GET Person: the "Person" archive (.../rest/Person/v1PersonEntity_GetAll.md)
            for row in self.client.query("Person", "get_persons", columns, in_ids("personId", chunk)):
                person = mapping.person_from_row(row, self.user_fields)
                found.setdefault(person["id"], person)
            present = [pid for pid in chunk if pid in found]
            if not present:
                continue
            self._fill_consents(found, present)
            self._fill_subscriptions(found, present)
            for row in self.client.query(
                "Archive/ProjectMember",
                "get_persons: projects",
                ["projectMemberId", "projectId", "personId"],
                in_ids("personId", present),
                entities=PROJECT_MEMBER_ENTITIES,
            ):
                if str(row.get("personId")) in found:
                    found[str(row["personId"])]["projects"].append(str(row["projectId"]))
        self._fill_selections(found)
        return {pid: found[pid] for pid in ids if pid in found}

    def _fill_consents(self, found: dict[str, Record], present: list[str]) -> None:
        """Consents by purpose key from the ConsentPurpose archive joined to persons
        (docs/en/api/archive-providers/reference/consentpurpose.md)."""
        for row in self.client.query(
            "Archive/ConsentPurpose",
            "get_persons: consents",
            mapping.CONSENT_COLUMNS,
            in_ids(mapping.CONSENT_PERSON, present),
        ):
            pid = mapping.id_value(row.get(mapping.CONSENT_PERSON))
            purpose = str(row.get("key") or "").lower()
            if purpose and pid in found:
                found[pid]["consents"][purpose] = mapping.consent_row_granted(row)

    def _fill_subscriptions(self, found: dict[str, Record], present: list[str]) -> None:
        """Email subscriptions: every shipment type, subscribed unless the person has a
        ShipmentTypeReservation for it (docs/en/database/tables/shipmenttypereservation.md,
        read through the Dynamic archive provider, docs/en/api/archive-providers/reference/dynamic.md)."""
        types = {t["id"]: str(t["name"]).lower() for t in self._list("ShipmentType")}
        if not types:
            return
        reserved: dict[str, set[str]] = {}
        for row in self.client.query(
            "Archive/Dynamic",
            "get_persons: subscriptions",
            [mapping.RESERVATION_PERSON, mapping.RESERVATION_TYPE],
            in_ids(mapping.RESERVATION_PERSON, present),
        ):
            pid = mapping.id_value(row.get(mapping.RESERVATION_PERSON))
            type_id = mapping.id_value(row.get(mapping.RESERVATION_TYPE))
            if pid and type_id:
                reserved.setdefault(pid, set()).add(type_id)
        for pid in present:
            opted_out = reserved.get(pid, set())
            found[pid]["subscriptions"] = {name: tid not in opted_out for tid, name in types.items()}

    def _fill_selections(self, persons: dict[str, Record]) -> None:
        store = self.ledger.store
        known = sorted(store.redis.smembers(store.key("selections")) or [])
        if not known or not persons:
            return
        pipe = store.redis.pipeline()
        order = [(sid, pid) for sid in known for pid in persons]
        for sid, pid in order:
            pipe.sismember(selection_key(store, sid), pid)
        for (sid, pid), member in zip(order, pipe.execute(), strict=True):
            if member:
                persons[pid]["selections"].append(str(sid))

    def list_fields(self) -> list[FieldInfo]:
        """The built-in fields, then the user-defined ones configured in
        ``SUPERFLOW_SUPEROFFICE_PERSON_FIELDS``."""
        extra = [FieldInfo(f.key, f.key.replace("_", " ").capitalize(), f.type) for f in self.user_fields]
        return [*mapping.BUILT_IN, *extra]

    def list_associates(self) -> list[Record]:
        """Our users from GET User, the "AllUsers" archive
        (docs/en/api/reference/restful/rest/User/v1User_GetAll.md, .../reference/allusers.md)."""
        rows = self.client.query(
            "User", "list_associates", ["associateDbId", "fullName", "personEmail", "isActive"]
        )
        return [
            {
                "id": mapping.id_value(r.get("associateDbId")),
                "name": r.get("fullName"),
                "email": r.get("personEmail") or None,
                "mobile": None,
            }
            for r in rows
            if mapping.id_value(r.get("associateDbId")) and mapping.truthy(r.get("isActive", True))
        ]

    def tenant_time_zone(self) -> Record:
        """The tenant's time zone (GET TimeZone/current:
        docs/en/api/reference/restful/rest/TimeZone/v1TimeZone_GetCurrentTimeZone.md), as
        ``{"id", "name", "code", "cities"}``.  SuperOffice names its own time zone
        locations; they are not IANA names, so persons' ``timezone`` stays unset."""
        if self._tz is None:
            zone = self.client.get("TimeZone/current", "tenant_time_zone") or {}
            self._tz = {
                "id": str(zone.get("TZLocationID") or ""),
                "name": zone.get("Name"),
                "code": zone.get("TZLocationCode"),
                "cities": zone.get("TZLocationCities"),
            }
        return self._tz

    def list_selections(self) -> list[Record]:
        """GET Selection: the "FindSelection" archive (.../rest/Selection/v1SelectionEntity_GetAll.md)."""
        rows = self.client.query("Selection", "list_selections", ["selectionId", "name", "kind"])
        return [{"id": str(r["selectionId"]), "name": r.get("name")} for r in rows]

    def selection_members(self, selection_id: str) -> list[str]:
        """All person members of a static, dynamic or combined selection: GET
        Selection/{id}/Members (.../rest/Selection/v1SelectionEntity_GetSelectionMembersArchiveRows.md)."""
        rows = self.client.query(
            f"Selection/{int(selection_id)}/Members", "selection_members", ["personId"], archive=False
        )
        return sorted({p for r in rows if (p := mapping.id_value(r.get("personId")))}, key=int)

    def members_of(self, selection_id: str, person_ids: Iterable[str]) -> set[str]:
        """Which of ``person_ids`` are members: one query per 100 persons on the
        "ContactPersonSelectionV2" archive, which serves static and dynamic contact/person
        selections (docs/en/api/archive-providers/reference/contactpersonselectionv2.md)."""
        ids = _ids(person_ids)
        members: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            where = f"selectionId eq {int(selection_id)} and {in_ids('personId', ids[start : start + CHUNK])}"
            rows = self.client.query("Archive/ContactPersonSelectionV2", "members_of", ["personId"], where)
            members.update(p for r in rows if (p := mapping.id_value(r.get("personId"))))
        return members & set(ids)

    def list_projects(self) -> list[Record]:
        """GET Project: the "FindProject" archive (.../rest/Project/v1ProjectEntity_GetAll.md)."""
        rows = self.client.query("Project", "list_projects", ["projectId", "name"])
        return [{"id": str(r["projectId"]), "name": r.get("name")} for r in rows]

    def project_members(self, project_id: str) -> list[Record]:
        rows = self.client.query(
            "Archive/ProjectMember",
            "project_members",
            ["projectMemberId", "personId", "function"],
            f"projectId eq {int(project_id)}",
            entities=PROJECT_MEMBER_ENTITIES,
        )
        return [
            {
                "id": str(r["projectMemberId"]),
                "person_id": str(r["personId"]),
                "member_type": mapping.list_value(r.get("function")),
            }
            for r in rows
            if mapping.id_value(r.get("personId"))
        ]

    def list_sales(self, person_id: str) -> list[Record]:
        """GET Sale: the "FindSale" archive
        (.../rest/Sale/v1SaleEntity_GetAll.md, .../reference/findsale.md)."""
        rows = self.client.query(
            "Sale",
            "list_sales",
            ["saleId", "heading", "amount", "saleType", "saleStatus", "probPercent", "date", "associateId"],
            f"person/personId eq {int(person_id)}",
        )
        return [
            {
                "id": str(r["saleId"]),
                "person_id": str(person_id),
                "title": r.get("heading"),
                "amount": float(r.get("amount") or 0),
                "sale_type": mapping.list_value(r.get("saleType")),
                "stage": str(mapping.list_value(r.get("saleStatus")) or "").lower() or None,
                "probability": r.get("probPercent"),
                "expected_date": str(r.get("date") or "")[:10] or None,
                "owner": mapping.id_value(r.get("associateId")),
            }
            for r in rows
        ]

    def list_requests(self, person_id: str) -> list[Record]:
        """GET Ticket: the "Ticket" archive
        (.../rest/Ticket/v1TicketEntity_GetAll.md, .../reference/ticket.md)."""
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

    def list_follow_ups(self, associate_id: str, start: Any, end: Any) -> list[Record]:
        """The associate's diary between ``start`` and ``end`` (their busy times):
        POST Agents/Appointment/GetAssociateDiary with AssociateId, StartTime, EndTime, Count
        (docs/en/api/reference/restful/agent/Appointment_Agent/v1AppointmentAgent_GetAssociateDiary.md)."""
        body = {
            "AssociateId": int(associate_id),
            "StartTime": _time_text(start),
            "EndTime": _time_text(end),
            "Count": 500,
        }
        rows = self.client.post("Agents/Appointment/GetAssociateDiary", "list_follow_ups", body)
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
                # "date" is the equals operator of date columns (restriction-types.md)
                parts = [f"{user[field].column} date '{d}'" for d in chunk]
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
        """Grant a consent with PUT Person/{id}/Consent/{purpose}?source=&legalBase= or
        withdraw it with DELETE Person/{id}/Consent/{purpose}, after asking
        GET Person/{id}/Consent/{purpose} whether it is given now (withdrawn reads false).
        Pages: docs/en/api/reference/restful/rest/Person/v1PersonEntity_SetConsent.md,
        ..._RemoveConsent.md, ..._HasConsent.md.  Emits ``consent.changed`` on a change."""

        def work() -> tuple[Record, list[Event]]:
            key = purpose.upper()
            path = f"Person/{int(person_id)}/Consent/{key}"
            was = bool(self.client.get(path, "set_consent"))
            record: Record = {"person_id": str(person_id), "purpose": purpose, "granted": granted}
            if granted:
                basis = (legal_basis or DEFAULT_LEGAL_BASE).upper()
                self.client.put(path, "set_consent", legalBase=basis, source=CONSENT_SOURCE)
                record["legal_basis"] = basis
            elif was:
                self.client.delete(path, "set_consent")
                record["legal_basis"] = mapping.WITHDRAWN
            changed = was != granted
            data = {"purpose": purpose.lower(), "granted": granted}
            if changed:
                self.ledger.first_time(f"consent:{person_id}:{purpose.lower()}:{granted}", ttl=600)
            return record, [_event("consent.changed", person_id, data)] if changed else []

        return self._once(idempotency_key, work)

    def set_subscription(
        self, person_id: str, name: str, subscribed: bool, idempotency_key: str | None = None
    ) -> Record:
        """Select or clear the person's shipment type (email subscription) ``name``: GET and
        PUT Person/{id} with its ``ShipmentTypes`` ([{Id, Name, Selected, ...}],
        docs/en/api/reference/restful/rest/Person/v1PersonEntity_PutPersonEntity.md)."""

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
        """Add persons to a static selection with POST Agents/Selection/AddContactSelectionMembers
        ({SelectionId, ContactPersonIds: [{ContactId, PersonId}]}, answers 204;
        docs/en/api/reference/restful/agent/Selection_Agent/v1SelectionAgent_AddContactSelectionMembers.md).
        Emits ``selection.member_added`` for new members."""

        def work() -> tuple[None, list[Event]]:
            ids = _ids(person_ids)
            new = sorted(set(ids) - self.members_of(selection_id, ids), key=int)
            if new:
                body = {"SelectionId": int(selection_id), "ContactPersonIds": self._contact_person_ids(new)}
                self.client.post("Agents/Selection/AddContactSelectionMembers", "add_to_selection", body)
                self._mirror(selection_id, new, added=True)
            data = {"selection_id": str(selection_id)}
            return None, [_event("selection.member_added", pid, data) for pid in new]

        self._once(idempotency_key, work)

    def remove_from_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        """POST Agents/Selection/RemoveContactSelectionMembers, same body
        (.../Selection_Agent/v1SelectionAgent_RemoveContactSelectionMembers.md)."""

        def work() -> tuple[None, list[Event]]:
            ids = _ids(person_ids)
            gone = sorted(self.members_of(selection_id, ids), key=int)
            if gone:
                body = {"SelectionId": int(selection_id), "ContactPersonIds": self._contact_person_ids(gone)}
                self.client.post(
                    "Agents/Selection/RemoveContactSelectionMembers", "remove_from_selection", body
                )
                self._mirror(selection_id, gone, added=False)
            data = {"selection_id": str(selection_id)}
            return None, [_event("selection.member_removed", pid, data) for pid in gone]

        self._once(idempotency_key, work)

    def _contact_person_ids(self, person_ids: list[str]) -> list[Record]:
        """``[{"ContactId": 3, "PersonId": 17}]``: each person with their company (0 for
        none), one Person archive query per 100 persons."""
        companies: dict[str, int] = {}
        for start in range(0, len(person_ids), CHUNK):
            chunk = person_ids[start : start + CHUNK]
            for row in self.client.query(
                "Person", "selection members: companies", ["personId", "contactId"], in_ids("personId", chunk)
            ):
                companies[str(row["personId"])] = int(mapping.id_value(row.get("contactId")) or 0)
        return [{"ContactId": companies.get(pid, 0), "PersonId": int(pid)} for pid in person_ids]

    def _mirror(self, selection_id: str, person_ids: list[str], added: bool) -> None:
        store = self.ledger.store
        if not store.redis.sismember(store.key("selections"), str(selection_id)):
            return
        if added:
            store.redis.sadd(selection_key(store, str(selection_id)), *person_ids)
        else:
            store.redis.srem(selection_key(store, str(selection_id)), *person_ids)

    def add_to_project(
        self,
        project_id: str,
        person_ids: list[str],
        member_type: str | None = None,
        status: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """POST ProjectMember ({ProjectId, PersonId, ProjectMemberTypeId, Comment};
        docs/en/api/reference/restful/rest/ProjectMember/v1ProjectMember_PostProjectMember.md)
        per person not yet a member; emits ``project.member_added``."""

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
        """DELETE ProjectMember/{id} (.../rest/ProjectMember/v1ProjectMember_DeleteProjectMember.md)."""

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
        """POST Sale (a SaleEntity for the person and their company; the reference goes into
        ``SaleText``, docs/en/api/reference/restful/rest/Sale/v1SaleEntity_PostSaleEntity.md);
        emits ``sale.created``."""
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
                "SaleType": None if type_id is None else {"Id": type_id},
                "SaleText": ref or None,
            }
            made = self.client.post("Sale", "create_sale", {k: v for k, v in body.items() if v is not None})
            return self._sale(made, person_id, sale_type, stage, owner)

        def find(ref: str) -> Record | None:
            rows = list(
                self.client.query(
                    "Sale",
                    "create_sale: find retried",
                    ["saleId", "heading", "amount"],
                    # FindSale: "description" is the sale's long text (SaleText)
                    f"person/personId eq {int(person_id)} and description contains {_quote(ref)}",
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
        """POST Appointment: an AppointmentEntity in the diary (Type ``inDiary``) for
        appointments and meetings, a to-do (``inChecklist``) otherwise; its Description
        starts with the title.  Emits ``follow_up.created``."""
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
                "Type": FOLLOW_UP_TYPES.get(type, TO_DO),
                "Completed": "NotStarted",
                "Person": mapping.entity_ref("Person", person_id),
                "Contact": mapping.entity_ref("Contact", contact),
                "Associate": mapping.entity_ref("Associate", owner),
            }
            return record(
                self.client.post("Appointment", "create_follow_up", {k: v for k, v in body.items() if v})
            )

        def find(ref: str) -> Record | None:
            # FindAppointment: appointment/description is the appointment's text
            where = f"person/personId eq {int(person_id)} and appointment/description contains {_quote(ref)}"
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
        """POST Ticket, then POST TicketMessage with the first message (which carries the
        reference); emits ``request.created``.  Pages: .../rest/Ticket/v1TicketEntity_PostTicketEntity.md,
        .../rest/TicketMessage/v1TicketMessageEntity_PostTicketMessageEntity.md."""
        self._person_refs(person_id, "create_request")
        category_id = self._list_id("TicketCategory", category, "create_request: category")
        person_ref = mapping.entity_ref("Person", person_id)

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

        def first_message_to(ticket_id: Any, ref: str) -> None:
            message = f"{first_message}\n\n{ref}" if ref else first_message
            self.client.post(
                "TicketMessage",
                "create_request: first message",
                {"Ticket": {"TicketId": int(ticket_id)}, "Body": message, "Person": person_ref},
            )

        def post(ref: str) -> Record:
            body = {
                "Title": title,
                "Person": person_ref,
                "OwnedBy": mapping.entity_ref("Associate", owner),
                "Category": None if category_id is None else {"TicketCategoryId": category_id},
            }
            ticket = self.client.post(
                "Ticket", "create_request", {k: v for k, v in body.items() if v is not None}
            )
            first_message_to(ticket["TicketId"], ref)
            return record(ticket["TicketId"])

        def find(ref: str) -> Record | None:
            # The Ticket archive has no message text: find the person's tickets with this
            # title, then the one whose message carries the reference (TicketMessage archive,
            # .../reference/ticketmessage.md).  A ticket left without any message (the crash
            # came between the two POSTs) gets its first message now.
            where = f"personId eq {int(person_id)} and title eq {_quote(title)}"
            tickets = {
                str(r["ticketId"]): int(r.get("numberOfMessages") or 0)
                for r in self.client.query(
                    "Ticket", "create_request: find retried", ["ticketId", "numberOfMessages"], where
                )
            }
            if not tickets:
                return None
            rows = self.client.query(
                "Archive/TicketMessage",
                "create_request: find retried",
                ["ticketId", "body"],
                f"{in_ids('ticketId', sorted(tickets, key=int))} and body contains {_quote(ref)}",
            )
            for row in rows:
                return record(row["ticketId"])
            empty = sorted((t for t, n in tickets.items() if n == 0), key=int)
            if empty:
                first_message_to(empty[0], ref)
                return record(empty[0])
            return None

        return self._create(idempotency_key, "request", person_id, post, find)

    # -- CRMScript ------------------------------------------------------------------------------
    def run_script(
        self, name: str, person_id: str, arguments: dict[str, Any], idempotency_key: str | None = None
    ) -> str:
        """Run the CRMScript with include id ``name`` for the person:
        POST Agents/CRMScript/ExecuteScriptByIncludeId {CRMScriptIncludeId, Parameters}, which
        answers with the script's printed output as a string
        (docs/en/api/reference/restful/agent/CRMScript_Agent/v1CRMScriptAgent_ExecuteScriptByIncludeId.md).
        The CRMScript agent is not available in Online unless the app asked for it at
        registration: a 401/403 is said plainly."""

        def work() -> tuple[str, list[Event]]:
            body = {
                "CRMScriptIncludeId": name,
                "Parameters": {"personId": str(person_id), **{k: str(v) for k, v in arguments.items()}},
            }
            try:
                out = self.client.post("Agents/CRMScript/ExecuteScriptByIncludeId", "run_script", body)
            except SuperOfficeError as exc:
                if exc.status in (401, 403):
                    raise CrmError(
                        f"run_script: this SuperOffice tenant does not let superflow run CRMScripts"
                        f" (Online: the app must be granted the CRMScript agent; the user needs the"
                        f" right to run scripts): {exc}"
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


def _time_text(value: Any) -> str:
    """A diary bound as ISO text: epoch seconds (the CRM contract) or ISO text as given."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return str(value)


def _udef_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _event(event_type: str, person_id: Any, data: dict[str, Any]) -> Event:
    return Event(type=event_type, person_id=str(person_id), data=data, source=SOURCE)
