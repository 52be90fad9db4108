"""A fake SuperOffice tenant on ``responses``: the WebAPI endpoints the backend uses,
answering with payloads shaped like the fixtures in ``fixtures/superoffice`` (each of which
names the endpoint and the page of SuperOffice's documentation it follows).  Archive
queries are checked as they come: the provider's documented columns only, ``$filter`` in
the operators SuperOffice documents.  (No tests here; the other ``test_superoffice*``
modules import it.)"""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import responses

FIXTURES = Path(__file__).parent / "fixtures" / "superoffice"
API = "https://sod.superoffice.com/Cust12345/api/v1"
TOKEN_URL = "https://sod.superoffice.com/login/common/oauth/tokens"
SECRET = "webhook-shared-secret"
SETTINGS = {
    "superoffice_url": API,
    "superoffice_access_token": "expired-or-valid",
    "superoffice_refresh_token": "refresh-me",
    "superoffice_client_id": "app-id",
    "superoffice_client_secret": "app-secret",
    "superoffice_webhook_secret": SECRET,
    "superoffice_person_fields": "score:number=SuperOffice:3,tier=SuperOffice:1",
    "superoffice_retries": "0",
}

# Columns each archive answers for (a subset of the provider reference pages the fixtures
# cite); a query for any other column fails the test.
COLUMNS = {
    "Person": set(json.loads((FIXTURES / "person_archive.json").read_text())["value"][0])
    | {"personUdef/SuperOffice:4"},
    "Archive/ConsentPurpose": {
        "key",
        "consentPerson/person/personId",
        "consentPerson/active",
        "consentPerson/legalBase",
    },
    "Archive/ProjectMember": {"projectMemberId", "projectId", "contactId", "personId", "function"},
    "Archive/Dynamic": {"shipmenttypereservation.person_id", "shipmenttypereservation.shipmenttype_id"},
    "Archive/ContactPersonSelectionV2": {"selectionId", "personId", "contactId"},
    "Archive/TicketMessage": {"ticketId", "body"},
    "Selection": {"selectionId", "name", "kind", "lastMembershipChange", "updatedDate"},
    "Selection/Members": {"personId"},
    "Project": {"projectId", "name"},
    "Sale": {
        "saleId",
        "heading",
        "amount",
        "saleType",
        "saleStatus",
        "probPercent",
        "date",
        "associateId",
        "person/personId",
        "description",
    },
    "Appointment": {"appointmentId", "person/personId", "appointment/description"},
    "Ticket": {
        "ticketId",
        "title",
        "personId",
        "numberOfMessages",
        "categoryFullName",
        "priorityName",
        "ticketStatusName",
        "createdAt",
    },
    "User": {"associateDbId", "fullName", "personEmail", "isActive"},
}


def fixture(name: str) -> dict[str, Any]:
    """A fixture without its ``_endpoint``/``_doc`` notes."""
    data = json.loads((FIXTURES / name).read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _atom(row: dict[str, Any], atom: str) -> bool:
    atom = atom.strip()
    while atom.startswith("(") and atom.count("(") > atom.count(")"):
        atom = atom[1:].strip()
    while atom.endswith(")") and atom.count(")") > atom.count("("):
        atom = atom[:-1].strip()
    if m := re.fullmatch(r"(\S+) (in|oneOf) \(([^)]*)\)", atom):
        return str(row.get(m[1])) in [v.strip() for v in m[3].split(",")]
    if m := re.fullmatch(r"(\S+) (eq|contains|date) '(.*)'", atom):
        value = str(row.get(m[1]) or "")
        if m[2] == "eq":
            return value.lower() == m[3].replace("''", "'").lower()
        if m[2] == "date":
            return value[:10] == m[3]
        return m[3].replace("''", "'") in value
    if m := re.fullmatch(r"(\S+) eq (\d+)", atom):
        return str(row.get(m[1])) == m[2]
    if m := re.fullmatch(r"(\S+) gt (\d+)", atom):
        return int(row.get(m[1]) or 0) > int(m[2])
    if m := re.fullmatch(r"(\S+) afterTime '(.*)'", atom):
        return str(row.get(m[1]) or "") > m[2]
    raise AssertionError(f"the fake tenant does not understand {atom!r}")


def matches(row: dict[str, Any], where: str) -> bool:
    if not where:
        return True
    return any(all(_atom(row, a) for a in alt.split(" and ")) for alt in where.split(" or "))


class FakeTenant:
    """Records in dicts, the WebAPI in callbacks.  ``rsps.calls`` counts what was asked;
    ``queries`` keeps each archive query's parameters."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.token = "valid-token"
        self.persons = {str(r["personId"]): r for r in copy.deepcopy(fixture("person_archive.json")["value"])}
        self.consents = copy.deepcopy(fixture("consent_archive.json")["value"])
        self.reservations = copy.deepcopy(fixture("shipment_reservations.json")["value"])
        self.shipment_types = copy.deepcopy(fixture("shipment_types.json")["items"])
        self.entities = {"17": fixture("person_entity.json")}
        self.contacts = {"3": {"ContactId": 3, "Name": "Analytical Engines AS", "Category": {"Id": 1}}}
        self.selections = {
            str(r["selectionId"]): r for r in copy.deepcopy(fixture("selection_archive.json")["value"])
        }
        self.selection_members: dict[str, set[str]] = {"5": set(), "6": set()}
        self.projects = {"7": {"projectId": 7, "name": "Launch"}}
        self.project_members: list[dict[str, Any]] = []
        self.sales: dict[str, dict[str, Any]] = {}
        self.appointments: dict[str, dict[str, Any]] = {}
        self.tickets: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self.users = copy.deepcopy(fixture("users_archive.json")["value"])
        self.lists = fixture("lists.json")
        self.diary: list[dict[str, Any]] = []
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.ids = itertools.count(1000)
        self.script_status = 200
        self.refresh_status = 200
        self._routes()

    # -- helpers -------------------------------------------------------------------
    def calls(self, method: str, path: str) -> int:
        return sum(
            1
            for c in self.rsps.calls
            if c.request.method == method and urlsplit(c.request.url).path.endswith("/api/v1/" + path)
        )

    def filters(self, path: str) -> list[str]:
        return [q.get("$filter", "") for p, q in self.queries if p == path]

    def _ok(self, request: Any) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _route(self, method: str, pattern: str, handler: Any) -> None:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            if not self._ok(request):
                return 401, {}, json.dumps({"Error": True, "ErrorMessage": "Token expired"})
            path = urlsplit(request.url).path.split("/api/v1/", 1)[1]
            query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
            body = json.loads(request.body) if request.body else None
            status, payload = handler(re.fullmatch(pattern, path), query, body)
            return (
                status,
                {"Content-Type": "application/json"},
                "" if payload is None else json.dumps(payload),
            )

        self.rsps.add_callback(method, re.compile(re.escape(API) + "/" + pattern + r"(\?.*)?$"), callback)

    def _archive(self, name: str, rows_of: Any, archive: bool = True) -> Any:
        def handler(m: Any, query: dict[str, str], b: Any) -> tuple[int, dict[str, Any]]:
            self.queries.append((name, query))
            columns = query.get("$select", "").split(",")
            unknown = set(columns) - COLUMNS[name]
            assert not unknown, f"{name} has no column(s) {sorted(unknown)}"
            if archive:
                assert query.get("$output") == "Logical" and query.get("$top") == "500", query
            rows = rows_of(m)
            where = query.get("$filter", "")
            value = [
                {"PrimaryKey": 0, "EntityName": "row", **{c: r.get(c) for c in columns}}
                for r in rows
                if matches(r, where)
            ]
            if order := query.get("$orderBy"):
                column, _, direction = order.partition(" ")
                assert column in COLUMNS[name], f"{name} cannot be ordered by {column}"
                value.sort(key=lambda row: row.get(column) or 0, reverse=direction == "desc")
            return 200, {"odata.metadata": f"{API}/archive$metadata", "odata.nextLink": None, "value": value}

        return handler

    # -- the endpoints --------------------------------------------------------------
    def _routes(self) -> None:
        def token(request: Any) -> tuple[int, dict[str, str], str]:
            form = parse_qs(request.body)
            if self.refresh_status != 200:
                return self.refresh_status, {}, json.dumps({"error": "invalid_grant"})
            assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["refresh-me"]
            return (
                200,
                {},
                json.dumps({"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}),
            )

        self.rsps.add_callback("POST", TOKEN_URL, token)
        r, a = self._route, self._archive
        r("GET", "Person", a("Person", lambda m: list(self.persons.values())))
        r("GET", "Archive/ConsentPurpose", a("Archive/ConsentPurpose", lambda m: self.consents))
        r("GET", "Archive/ProjectMember", a("Archive/ProjectMember", lambda m: self.project_members))
        r("GET", "Archive/Dynamic", a("Archive/Dynamic", lambda m: self.reservations))
        r("GET", "Archive/ContactPersonSelectionV2", a("Archive/ContactPersonSelectionV2", self._members))
        r("GET", "Archive/TicketMessage", a("Archive/TicketMessage", lambda m: self.messages_rows()))
        r("GET", r"Selection/(\d+)/Members", a("Selection/Members", self._members_of, archive=False))
        r("GET", "Selection", a("Selection", lambda m: list(self.selections.values())))
        r("GET", "Project", a("Project", lambda m: list(self.projects.values())))
        r("GET", "Sale", a("Sale", lambda m: list(self.sales.values())))
        r("GET", "Appointment", a("Appointment", lambda m: list(self.appointments.values())))
        r("GET", "Ticket", a("Ticket", lambda m: list(self.tickets.values())))
        r("GET", "User", a("User", lambda m: self.users))
        r("GET", r"List/(\w+)/Items", self._list)
        r("GET", r"MDOList/(\w+)", lambda m, q, b: (200, self.lists[m[1]]))
        r("GET", r"Person/(\d+)", self._get_person)
        r("PUT", r"Person/(\d+)", self._put_person)
        r("GET", r"Person/(\d+)/Consent/(\w+)", self._has_consent)
        r("PUT", r"Person/(\d+)/Consent/(\w+)", self._set_consent)
        r("DELETE", r"Person/(\d+)/Consent/(\w+)", self._remove_consent)
        r("GET", r"Contact/(\d+)", self._get_contact)
        r("PUT", r"Contact/(\d+)", self._put_contact)
        r("POST", "Agents/Selection/AddContactSelectionMembers", self._add_members)
        r("POST", "Agents/Selection/RemoveContactSelectionMembers", self._remove_members)
        r("POST", "ProjectMember", self._add_project_member)
        r("GET", r"ProjectMember/(\d+)", self._get_project_member)
        r("DELETE", r"ProjectMember/(\d+)", self._delete_project_member)
        r("POST", "Sale", self._post_sale)
        r("GET", r"Sale/(\d+)", lambda m, q, b: (200, self.sales[m[1]]["entity"]))
        r("POST", "Appointment", self._post_appointment)
        r("GET", r"Appointment/(\d+)", lambda m, q, b: (200, self.appointments[m[1]]["entity"]))
        r("POST", "Agents/Appointment/GetAssociateDiary", self._diary)
        r("POST", "Ticket", self._post_ticket)
        r("GET", r"Ticket/(\d+)", lambda m, q, b: (200, self.tickets[m[1]]["entity"]))
        r("POST", "TicketMessage", self._post_message)
        r("POST", "Agents/CRMScript/ExecuteScriptByIncludeId", self._script)
        r("GET", "Webhook", lambda m, q, b: (200, [w for w in self.webhooks if w["Name"] == q["nameFilter"]]))
        r("POST", "Webhook", self._post_webhook)
        r("PUT", r"Webhook/(\d+)", self._put_webhook)
        r("GET", "User/currentPrincipal", lambda m, q, b: (200, {"Associate": "SYSTEM", "AssociateId": 9}))
        r("GET", "TimeZone/current", lambda m, q, b: (200, fixture("timezone_current.json")))

    def _list(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        if m[1] == "ShipmentType":
            return 200, self.shipment_types
        return 200, self.lists[m[1]]

    def _members(self, m: Any) -> list[dict[str, Any]]:
        return [
            {"selectionId": int(sid), "personId": int(pid)}
            for sid, members in self.selection_members.items()
            for pid in members
        ]

    def _members_of(self, m: Any) -> list[dict[str, Any]]:
        return [{"personId": int(pid)} for pid in sorted(self.selection_members[m[1]], key=int)]

    def messages_rows(self) -> list[dict[str, Any]]:
        return [{"ticketId": msg["Ticket"]["TicketId"], "body": msg["Body"]} for msg in self.messages]

    def _get_person(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        if m[1] not in self.entities:
            return 404, {"Error": True, "ErrorType": "NotFound", "ErrorMessage": f"Person {m[1]} not found"}
        return 200, self.entities[m[1]]

    def _put_person(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.entities[m[1]] = body
        row = self.persons[m[1]]
        row["firstName"], row["lastName"] = body.get("Firstname"), body.get("Lastname")
        row["email/emailAddress"] = (body.get("Emails") or [{}])[0].get("Value")
        row["personNoMail"] = body.get("NoMailing")
        for prog_id, value in (body.get("UserDefinedFields") or {}).items():
            row[f"personUdef/{prog_id}"] = value
        for shipment in body.get("ShipmentTypes") or []:
            self.reservations = [
                x
                for x in self.reservations
                if (
                    str(x["shipmenttypereservation.person_id"]),
                    str(x["shipmenttypereservation.shipmenttype_id"]),
                )
                != (m[1], str(shipment["Id"]))
            ]
            if not shipment.get("Selected"):
                self.reservations.append(
                    {
                        "shipmenttypereservation.person_id": int(m[1]),
                        "shipmenttypereservation.shipmenttype_id": shipment["Id"],
                    }
                )
        return 200, body

    def _consent(self, pid: str, purpose: str) -> dict[str, Any] | None:
        return next(
            (
                c
                for c in self.consents
                if str(c["consentPerson/person/personId"]) == pid and c["key"] == purpose
            ),
            None,
        )

    def _has_consent(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        consent = self._consent(m[1], m[2])
        return 200, bool(consent and consent["consentPerson/active"])

    def _set_consent(self, m: Any, q: dict[str, str], b: Any) -> tuple[int, Any]:
        assert q["source"] and q["legalBase"], q  # both are required by the page
        consent = self._consent(m[1], m[2])
        if consent is None:
            consent = {"key": m[2], "consentPerson/person/personId": int(m[1])}
            self.consents.append(consent)
        consent |= {"consentPerson/active": True, "consentPerson/legalBase": q["legalBase"]}
        return 204, None

    def _remove_consent(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        consent = self._consent(m[1], m[2])
        if consent is not None:
            consent |= {"consentPerson/active": False, "consentPerson/legalBase": "Withdrawn"}
        return 204, None

    def _get_contact(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        if m[1] not in self.contacts:
            return 404, {"Error": True, "ErrorType": "NotFound", "ErrorMessage": f"Contact {m[1]} not found"}
        return 200, self.contacts[m[1]]

    def _put_contact(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.contacts[m[1]] = body
        names = {str(i["Id"]): i["Name"] for i in self.lists["Category"]}
        for row in self.persons.values():
            if str(row["contactId"]) == m[1]:
                row["personContact/category"] = names.get(str((body.get("Category") or {}).get("Id")), "")
        return 200, body

    def _check_members_body(self, body: dict[str, Any]) -> None:
        assert set(body) == {"SelectionId", "ContactPersonIds"}, body
        for item in body["ContactPersonIds"]:
            assert set(item) == {"ContactId", "PersonId"}, item
            assert item["ContactId"] == int(self.persons[str(item["PersonId"])]["contactId"])

    def _add_members(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self._check_members_body(body)
        members = self.selection_members[str(body["SelectionId"])]
        members.update(str(p["PersonId"]) for p in body["ContactPersonIds"])
        return 204, None

    def _remove_members(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self._check_members_body(body)
        members = self.selection_members[str(body["SelectionId"])]
        members.difference_update(str(p["PersonId"]) for p in body["ContactPersonIds"])
        return 204, None

    def _add_project_member(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        member_id = next(self.ids)
        names = {i["Id"]: i["Name"] for i in self.lists["PMembType"]}
        self.project_members.append(
            {
                "projectMemberId": member_id,
                "projectId": body["ProjectId"],
                "personId": body["PersonId"],
                "contactId": 3,
                "function": names.get(body.get("ProjectMemberTypeId"), ""),
            }
        )
        return 200, {"ProjectmemberId": member_id, **body}

    def _get_project_member(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        row = next(p for p in self.project_members if str(p["projectMemberId"]) == m[1])
        return 200, {
            "ProjectmemberId": row["projectMemberId"],
            "ProjectId": row["projectId"],
            "PersonId": row["personId"],
            "ProjectMemberTypeName": row["function"],
        }

    def _delete_project_member(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        self.project_members = [p for p in self.project_members if str(p["projectMemberId"]) != m[1]]
        return 204, None

    def _post_sale(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        if not body.get("Heading"):
            return 400, fixture("error_400.json")
        assert "Description" not in body, "SaleEntity has no Description; the text is SaleText"
        sale_id = next(self.ids)
        entity = {**fixture("sale_entity.json"), **body, "SaleId": sale_id}
        self.sales[str(sale_id)] = {
            "saleId": sale_id,
            "heading": body["Heading"],
            "amount": body.get("Amount"),
            "person/personId": body["Person"]["PersonId"],
            "description": body.get("SaleText", ""),
            "saleStatus": body.get("Status"),
            "entity": entity,
        }
        return 200, entity

    def _post_appointment(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        assert body["Type"] in ("inDiary", "inChecklist") and body["Completed"] == "NotStarted", body
        appointment_id = next(self.ids)
        entity = {**body, "AppointmentId": appointment_id}
        self.appointments[str(appointment_id)] = {
            "appointmentId": appointment_id,
            "person/personId": body["Person"]["PersonId"],
            "appointment/description": body.get("Description", ""),
            "entity": entity,
        }
        return 200, entity

    def _diary(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        assert set(body) == {"AssociateId", "StartTime", "EndTime", "Count"}, body
        return 200, [a for a in self.diary if a["AssociateId"] == body["AssociateId"]]

    def _post_ticket(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        ticket_id = next(self.ids)
        entity = {**body, "TicketId": ticket_id}
        self.tickets[str(ticket_id)] = {
            "ticketId": ticket_id,
            "title": body["Title"],
            "personId": body["Person"]["PersonId"],
            "numberOfMessages": 0,
            "entity": entity,
        }
        return 200, entity

    def _post_message(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.messages.append(body)
        self.tickets[str(body["Ticket"]["TicketId"])]["numberOfMessages"] += 1
        return 200, {"TicketMessageId": next(self.ids), **body}

    def _script(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        assert set(body) == {"CRMScriptIncludeId", "Parameters"}, body
        if self.script_status != 200:
            return self.script_status, {
                "Error": True,
                "ErrorType": "SoAccessDeniedException",
                "ErrorMessage": "Access denied: CRMScript is not enabled for this application",
            }
        return 200, f"scored person {body['Parameters']['personId']}"

    def _post_webhook(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        saved = {**body, "WebhookId": next(self.ids)}
        self.webhooks.append(saved)
        return 200, saved

    def _put_webhook(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.webhooks = [w for w in self.webhooks if str(w["WebhookId"]) != m[1]] + [body]
        return 200, body
