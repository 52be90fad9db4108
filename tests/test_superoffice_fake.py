"""A fake SuperOffice tenant on ``responses``: the WebAPI endpoints the backend uses,
answering with payloads shaped like the fixtures in ``fixtures/superoffice``.  (No tests
here; the other ``test_superoffice*`` modules import it.)"""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


def fixture(name: str) -> dict[str, Any]:
    """A fixture without its ``_endpoint`` note."""
    data = json.loads((FIXTURES / name).read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _atom(row: dict[str, Any], atom: str) -> bool:
    atom = atom.strip()
    if atom.startswith("(") and not atom.endswith(")"):
        atom = atom[1:]
    if atom.endswith(")") and "(" not in atom:
        atom = atom[:-1]
    if m := re.fullmatch(r"(\S+) oneOf\(([^)]*)\)", atom):
        return str(row.get(m[1])) in m[2].split(",")
    if m := re.fullmatch(r"(\S+) (eq|contains) '(.*)'", atom):
        value = str(row.get(m[1]) or "")
        return value.lower() == m[3].lower() if m[2] == "eq" else m[3] in value
    if m := re.fullmatch(r"(\S+) eq (\S+)", atom):
        return str(row.get(m[1])) == m[2]
    if m := re.fullmatch(r"(\S+) afterTime '(.*)'", atom):
        return str(row.get(m[1]) or "") > m[2]
    raise AssertionError(f"the fake tenant does not understand {atom!r}")


def matches(row: dict[str, Any], where: str) -> bool:
    if not where:
        return True
    return any(all(_atom(row, a) for a in alt.split(" and ")) for alt in where.split(" or "))


class FakeTenant:
    """Records in dicts, the WebAPI in callbacks.  ``rsps.calls`` counts what was asked."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.token = "valid-token"
        self.persons = {str(r["personId"]): r for r in copy.deepcopy(fixture("person_archive.json")["value"])}
        self.consents = copy.deepcopy(fixture("consent_archive.json")["value"])
        self.entities = {"17": fixture("person_entity.json")}
        self.contacts = {"3": {"ContactId": 3, "Name": "Analytical Engines AS", "Category": {"Id": 1}}}
        self.selections = {
            "5": {"selectionId": 5, "name": "Newsletter", "updatedDate": "2026-01-01T00:00:00"}
        }
        self.selection_members: dict[str, set[str]] = {"5": set()}
        self.projects = {"7": {"projectId": 7, "name": "Launch"}}
        self.project_members: list[dict[str, Any]] = []
        self.sales: dict[str, dict[str, Any]] = {}
        self.appointments: dict[str, dict[str, Any]] = {}
        self.tickets: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self.associates = [
            {"AssociateId": 2, "Name": "SS", "FullName": "Sam Seller", "EMailAddress": "sam@so.test"}
        ]
        self.lists = {
            "Category": [{"Id": 1, "Name": "Customer"}, {"Id": 2, "Name": "Prospect"}],
            "Business": [{"Id": 1, "Name": "IT"}],
            "SaleType": [{"Id": 1, "Name": "Subscription"}],
            "TicketCategory": [{"Id": 2, "Name": "Support"}],
            "ProjectMemberType": [{"Id": 1, "Name": "Participant"}],
        }
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

    def _ok(self, request: Any) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _route(self, method: str, pattern: str, handler: Any) -> None:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            if not self._ok(request):
                return 401, {}, json.dumps({"Error": "Token expired"})
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

    @staticmethod
    def _odata(rows: list[dict[str, Any]], query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        where = query.get("$filter", "")
        columns = query.get("$select", "").split(",")
        value = [{c: r.get(c) for c in columns} for r in rows if matches(r, where)]
        return 200, {"odata.nextLink": None, "value": value}

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
        r = self._route
        r("GET", "Person", lambda m, q, b: self._odata(list(self.persons.values()), q))
        r("GET", "archive/ConsentPerson", lambda m, q, b: self._odata(self.consents, q))
        r("GET", "archive/ProjectMember", lambda m, q, b: self._odata(self.project_members, q))
        r("GET", "archive/ContactPersonSelectionV2", self._selection_rows)
        r("GET", "Selection", lambda m, q, b: self._odata(list(self.selections.values()), q))
        r("GET", "Project", lambda m, q, b: self._odata(list(self.projects.values()), q))
        r("GET", "Sale", lambda m, q, b: self._odata(list(self.sales.values()), q))
        r("GET", "Appointment", lambda m, q, b: self._odata(list(self.appointments.values()), q))
        r("GET", "Ticket", lambda m, q, b: self._odata(list(self.tickets.values()), q))
        r("GET", r"List/(\w+)/Items", lambda m, q, b: (200, self.lists[m[1]]))
        r("GET", r"Person/(\d+)", self._get_person)
        r("PUT", r"Person/(\d+)", self._put_person)
        r("GET", r"Contact/(\d+)", lambda m, q, b: (200, self.contacts[m[1]]))
        r("PUT", r"Contact/(\d+)", self._put_contact)
        r("POST", "Agents/Selection/AddSelectionMembers", self._add_members)
        r("POST", "Agents/Selection/RemoveSelectionMembers", self._remove_members)
        r("POST", "ProjectMember", self._add_project_member)
        r("DELETE", r"ProjectMember/(\d+)", self._delete_project_member)
        r("POST", "Sale", self._post_sale)
        r("GET", r"Sale/(\d+)", lambda m, q, b: (200, self.sales[m[1]]["entity"]))
        r("POST", "Appointment", self._post_appointment)
        r("GET", r"Appointment/(\d+)", lambda m, q, b: (200, self.appointments[m[1]]["entity"]))
        r("POST", "Ticket", self._post_ticket)
        r("GET", r"Ticket/(\d+)", lambda m, q, b: (200, self.tickets[m[1]]["entity"]))
        r("POST", "TicketMessage", self._post_message)
        r("POST", "Agents/CRMScript/ExecuteScriptByIncludeId", self._script)
        r("GET", "Webhook", lambda m, q, b: (200, self.webhooks))
        r("POST", "Webhook", self._post_webhook)
        r("PUT", r"Webhook/(\d+)", self._put_webhook)
        r("GET", "Associate", lambda m, q, b: (200, self.associates))
        r("GET", "User/currentPrincipal", lambda m, q, b: (200, {"Associate": "SYSTEM", "AssociateId": 9}))

    def _selection_rows(self, m: Any, q: dict[str, str], b: Any) -> tuple[int, Any]:
        rows = [
            {"selectionId": int(sid), "personId": int(pid)}
            for sid, members in self.selection_members.items()
            for pid in members
        ]
        return self._odata(rows, q)

    def _get_person(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        if m[1] not in self.entities:
            return 404, {"Error": f"Person {m[1]} not found", "ErrorType": "NotFound"}
        return 200, self.entities[m[1]]

    def _put_person(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.entities[m[1]] = body
        row = self.persons[m[1]]
        row["firstName"], row["lastName"] = body.get("Firstname"), body.get("Lastname")
        row["email/emailAddress"] = (body.get("Emails") or [{}])[0].get("Value")
        row["personNoMail"] = body.get("NoMailing")
        for prog_id, value in (body.get("UserDefinedFields") or {}).items():
            row[f"personUdef/{prog_id}"] = value
        self.consents = [c for c in self.consents if str(c["personId"]) != m[1]]
        for c in body.get("Consents") or []:
            self.consents.append(
                {
                    "personId": int(m[1]),
                    "consentPurpose/key": c["ConsentPurposeKey"],
                    "legalBase/key": c["LegalBaseKey"],
                }
            )
        return 200, body

    def _put_contact(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.contacts[m[1]] = body
        names = {str(i["Id"]): i["Name"] for i in self.lists["Category"]}
        for row in self.persons.values():
            if str(row["contactId"]) == m[1]:
                row["category"] = names.get(str((body.get("Category") or {}).get("Id")), "")
        return 200, body

    def _add_members(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.selection_members[str(body["SelectionId"])].update(str(p) for p in body["PersonIds"])
        return 200, True

    def _remove_members(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.selection_members[str(body["SelectionId"])].difference_update(str(p) for p in body["PersonIds"])
        return 200, True

    def _add_project_member(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        member_id = next(self.ids)
        self.project_members.append(
            {
                "projectMemberId": member_id,
                "projectId": body["ProjectId"],
                "personId": body["PersonId"],
                "projectMemberType": "Participant" if body.get("ProjectMemberTypeId") else "",
            }
        )
        return 200, {"ProjectmemberId": member_id, **body}

    def _delete_project_member(self, m: Any, q: Any, b: Any) -> tuple[int, Any]:
        self.project_members = [p for p in self.project_members if str(p["projectMemberId"]) != m[1]]
        return 204, None

    def _post_sale(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        if not body.get("Heading"):
            return 400, fixture("error_400.json")
        sale_id = next(self.ids)
        entity = {**fixture("sale_entity.json"), **body, "SaleId": sale_id}
        self.sales[str(sale_id)] = {
            "saleId": sale_id,
            "heading": body["Heading"],
            "amount": body.get("Amount"),
            "personId": body["Person"]["PersonId"],
            "saleText": body.get("Description", ""),
            "entity": entity,
        }
        return 200, entity

    def _post_appointment(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        appointment_id = next(self.ids)
        entity = {**body, "AppointmentId": appointment_id}
        self.appointments[str(appointment_id)] = {
            "appointmentId": appointment_id,
            "personId": body["Person"]["PersonId"],
            "text": body.get("Description", ""),
            "entity": entity,
        }
        return 200, entity

    def _post_ticket(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        ticket_id = next(self.ids)
        entity = {**body, "TicketId": ticket_id}
        self.tickets[str(ticket_id)] = {
            "ticketId": ticket_id,
            "title": body["Title"],
            "personId": body["Person"]["PersonId"],
            "messageBody": "",
            "entity": entity,
        }
        return 200, entity

    def _post_message(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.messages.append(body)
        self.tickets[str(body["Ticket"]["TicketId"])]["messageBody"] = body["Body"]
        return 200, {"TicketMessageId": next(self.ids), **body}

    def _script(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        if self.script_status != 200:
            return self.script_status, {"Error": "Access denied: CRMScript is not enabled for this user"}
        return 200, {"Output": f"scored person {body['Parameters']['personId']}"}

    def _post_webhook(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        saved = {**body, "WebhookId": next(self.ids)}
        self.webhooks.append(saved)
        return 200, saved

    def _put_webhook(self, m: Any, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        self.webhooks = [w for w in self.webhooks if str(w["WebhookId"]) != m[1]] + [body]
        return 200, body
