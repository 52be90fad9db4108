"""The SuperOffice backend against a fake tenant on ``responses``: reads in batches,
every write a step type makes, idempotent retries, authentication and errors.  The fake
answers with the documented shapes (see each fixture's ``_doc``) and refuses archive
columns the provider does not document."""

from __future__ import annotations

import json

import pytest
import responses
from test_superoffice_fake import API
from test_superoffice_fake import SETTINGS
from test_superoffice_fake import FakeTenant
from test_superoffice_fake import fixture

from superflow.crm import CrmError
from superflow.crm import UnknownField
from superflow.plugins.superoffice.backend import SuperOfficeCrm
from superflow.plugins.superoffice.backend import reference
from superflow.plugins.superoffice.client import NotConfigured
from superflow.plugins.superoffice.client import NotFound
from superflow.plugins.superoffice.client import SuperOfficeClient
from superflow.plugins.superoffice.client import SuperOfficeError
from superflow.plugins.superoffice.ledger import Ledger


@pytest.fixture
def tenant():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeTenant(rsps)


@pytest.fixture
def rt(sf_plugin, tenant):
    runtime = sf_plugin(crm="superoffice", extra=SETTINGS)
    runtime.events = []
    runtime.crm.emit = runtime.events.extend
    runtime.crm._redis = runtime.redis
    runtime.crm.client._token = "valid-token"
    return runtime


def types(rt):
    return [(e.type, e.person_id) for e in rt.events]


# -- configuration -----------------------------------------------------------------
def test_only_registers_when_not_configured(sf_runtime):
    assert sf_runtime.registry.get("crm_backends", "superoffice") is SuperOfficeCrm
    assert sf_runtime.config.crm == "local"


def test_missing_url_names_the_setting(sf_plugin):
    rt = sf_plugin(crm="superoffice")
    with pytest.raises(NotConfigured, match="SUPERFLOW_SUPEROFFICE_URL"):
        rt.crm  # noqa: B018


def test_missing_credentials_are_named(sf_config):
    from dataclasses import replace

    config = replace(sf_config, extra={"superoffice_url": API})
    with pytest.raises(NotConfigured, match="REFRESH_TOKEN"):
        SuperOfficeClient(config)


# -- reading ---------------------------------------------------------------------
def test_existing_persons_asks_for_the_ids_alone(rt, tenant):
    assert rt.crm.existing_persons(["18", "17", "99", "x"]) == {"17", "18"}
    assert tenant.calls("GET", "Person") == 1
    assert len(tenant.rsps.calls) == 1  # no consents, subscriptions or projects read


def test_get_persons_batches_fields_company_consents_and_user_fields(rt, tenant):
    persons = rt.crm.get_persons(["18", "17", "99"])
    assert list(persons) == ["18", "17"]
    ada = persons["17"]
    assert ada["full_name"] == "Ada Lovelace" and ada["email"] == "ada@example.com"
    assert ada["mobile"] == "+47 912 34 567" and ada["birth_date"] == "1980-04-02"
    assert ada["company"] == {
        "id": "3",
        "name": "Analytical Engines AS",
        "category": "Customer",
        "business": "IT",
        "our_contact": "2",
        "our_service_contact": "4",
    }
    assert ada["fields"] == {"score": 10, "tier": "gold"}
    assert ada["consents"] == {"emarketing": True, "store": True}
    assert persons["18"]["consents"] == {"emarketing": False}  # withdrawn blocks sending
    assert persons["18"]["company"] is None and persons["18"]["birth_date"] is None
    # subscriptions: every shipment type, except those the person has a reservation for
    assert ada["subscriptions"] == {"newsletter": True, "events": True}
    assert persons["18"]["subscriptions"] == {"newsletter": False, "events": True}
    # one archive query each for persons, consents, subscriptions and projects: not one per person
    assert tenant.calls("GET", "Person") == 1
    assert tenant.calls("GET", "Archive/ConsentPurpose") == 1
    assert tenant.calls("GET", "Archive/Dynamic") == 1
    assert tenant.calls("GET", "Archive/ProjectMember") == 1
    assert tenant.calls("GET", "List/ShipmentType/Items") == 1
    # int id columns are restricted with "in (..)" as SuperOffice's own samples do
    assert tenant.filters("Person") == ["personId in (18,17,99)"]
    assert tenant.filters("Archive/ConsentPurpose") == ["consentPerson/person/personId in (18,17)"]
    assert tenant.filters("Archive/Dynamic") == ["shipmenttypereservation.person_id in (18,17)"]
    rt.crm.get_persons(["17"])
    assert tenant.calls("GET", "List/ShipmentType/Items") == 1  # the list is cached


def test_filters_over_many_persons_cost_a_query_per_hundred(rt, tenant):
    for i in range(100, 350):
        tenant.persons[str(i)] = {**tenant.persons["18"], "personId": i, "firstName": f"P{i}"}
    persons = rt.crm.get_persons([str(i) for i in range(100, 350)])
    assert len(persons) == 250
    assert tenant.calls("GET", "Person") == 3


def test_person_ids_walk_the_tenant_in_id_order_for_the_designer_count(rt, tenant):
    for i in range(100, 350):
        tenant.persons[str(i)] = {**tenant.persons["18"], "personId": i}
    first = rt.crm.person_ids(None, 100)
    assert first[:2] == ["17", "18"] and len(first) == 100
    rest = rt.crm.person_ids(first[-1], 1000)
    assert rest[0] == "198" and rest[-1] == "349" and len(first + rest) == len(tenant.persons)
    assert rt.crm.person_ids("349") == []
    assert tenant.filters("Person")[-1] == "personId gt 349"


def test_members_of_selections_projects_dates_and_shared_addresses(rt, tenant):
    tenant.selection_members["5"] = {"17"}
    assert rt.crm.members_of("5", ["17", "18"]) == {"17"}
    assert tenant.filters("Archive/ContactPersonSelectionV2") == ["selectionId eq 5 and personId in (17,18)"]
    assert rt.crm.selection_members("5") == ["17"]
    tenant.selection_members["6"] = {"18", "17"}  # a dynamic selection: same endpoints
    assert rt.crm.selection_members("6") == ["17", "18"]
    assert rt.crm.members_of("6", ["18"]) == {"18"}
    assert rt.crm.list_selections() == [
        {"id": "5", "name": "Newsletter"},
        {"id": "6", "name": "Customers in Oslo"},
    ]
    assert rt.crm.persons_on_dates("birth_date", ["2026-04-02"], yearly=True) == {"17": "1980-04-02"}
    assert rt.crm.persons_on_dates("birth_date", ["2026-04-02"], yearly=False) == {}
    tenant.persons["18"]["email/emailAddress"] = "ADA@example.com"
    assert rt.crm.shared_addresses(["ada@example.com", "nobody@example.com"]) == {"ada@example.com"}
    assert rt.crm.list_request_categories() == [{"id": "2", "name": "Support", "default_owner": None}]


def test_a_company_and_its_persons_for_the_company_panel(rt, tenant):
    tenant.persons["19"] = {**tenant.persons["17"], "personId": 19}
    assert rt.crm.get_company("3") == {"id": "3", "name": "Analytical Engines AS", "person_ids": ["17", "19"]}
    assert tenant.filters("Person")[-1] == "contactId eq 3"
    assert rt.crm.get_company("404") is None


# -- writing: every step type ------------------------------------------------------------
def test_update_person_and_user_fields_then_company_field(rt, tenant):
    [applied] = rt.crm.update_persons([("17", {"first_name": "Augusta", "score": 25}, "k1")])
    assert applied == {"first_name": ["Ada", "Augusta"], "score": [10, 25]}
    assert tenant.entities["17"]["Firstname"] == "Augusta"
    assert tenant.entities["17"]["UserDefinedFields"]["SuperOffice:3"] == "25"
    assert types(rt) == [("person.updated", "17")]

    tenant.persons["19"] = {**tenant.persons["17"], "personId": 19}
    rt.crm.update_persons([("17", {"company.category": "Prospect"}, "k2")])
    assert tenant.contacts["3"]["Category"] == {"Id": 2}
    assert types(rt)[1:] == [("person.updated", "17"), ("company.updated", "19")]


def test_update_refuses_unknown_fields_before_writing(rt, tenant):
    with pytest.raises(UnknownField, match="'shoe_size'"):
        rt.crm.update_persons([("17", {"first_name": "X"}, "a"), ("17", {"shoe_size": 41}, "b")])
    assert tenant.calls("PUT", "Person/17") == 0


def test_selection_members_added_and_removed_with_events(rt, tenant):
    rt.crm.add_to_selection("5", ["17", "18"], idempotency_key="sel")
    assert tenant.selection_members["5"] == {"17", "18"}
    rt.crm.add_to_selection("5", ["17", "18"], idempotency_key="sel")
    rt.crm.remove_from_selection("5", ["18"], idempotency_key="unsel")
    assert tenant.selection_members["5"] == {"17"}
    assert types(rt) == [
        ("selection.member_added", "17"),
        ("selection.member_added", "18"),
        ("selection.member_removed", "18"),
    ]
    assert tenant.calls("POST", "Agents/Selection/AddContactSelectionMembers") == 1
    assert tenant.calls("POST", "Agents/Selection/RemoveContactSelectionMembers") == 1
    [add] = [c for c in tenant.rsps.calls if c.request.url.endswith("AddContactSelectionMembers")]
    assert json.loads(add.request.body) == {
        "SelectionId": 5,
        "ContactPersonIds": [{"ContactId": 3, "PersonId": 17}, {"ContactId": 0, "PersonId": 18}],
    }


def test_project_members(rt, tenant):
    rt.crm.add_to_project("7", ["17"], member_type="Participant", idempotency_key="p1")
    rt.crm.add_to_project("7", ["17"], member_type="Participant", idempotency_key="p2")
    assert [m["personId"] for m in tenant.project_members] == [17]
    assert rt.crm.project_members("7")[0]["member_type"] == "Participant"  # the "function" column
    assert rt.crm.get_person("17")["projects"] == ["7"]
    rt.crm.remove_from_project("7", ["17"], idempotency_key="p3")
    assert tenant.project_members == []
    assert [e.type for e in rt.events] == ["project.member_added", "project.member_removed"]


def test_create_sale_follow_up_and_request(rt, tenant):
    sale = rt.crm.create_sale(
        "17", "Welcome offer", 1500.0, sale_type="Subscription", owner="2", idempotency_key="s1"
    )
    [stored] = tenant.sales.values()
    assert stored["entity"]["SaleType"] == {"Id": 1}
    assert stored["entity"]["Contact"] == {"ContactId": 3}
    assert stored["entity"]["SaleText"] == reference("s1") and stored["entity"]["Status"] == "Open"
    assert sale["amount"] == 1500.0 and sale["sale_type"] == "Subscription"

    follow_up = rt.crm.create_follow_up(
        "17", "Call Ada", "phone_call", starts_at="2026-05-04T09:00:00+02:00", owner="2", idempotency_key="f1"
    )
    [appointment] = tenant.appointments.values()
    assert appointment["entity"]["Type"] == "inChecklist"
    assert appointment["appointment/description"].startswith("Call Ada")
    assert follow_up["title"] == "Call Ada"

    request = rt.crm.create_request(
        "17", "Help", category="Support", first_message="Hi", idempotency_key="r1"
    )
    assert request["category"] == "Support"
    assert tenant.messages[0]["Body"].startswith("Hi")
    assert [e.type for e in rt.events] == ["sale.created", "follow_up.created", "request.created"]


def test_a_retried_create_never_makes_a_second_record(rt, tenant):
    first = rt.crm.create_sale("17", "Offer", 10.0, idempotency_key="flow1.p1:step")
    again = rt.crm.create_sale("17", "Offer", 10.0, idempotency_key="flow1.p1:step")
    assert first == again and len(tenant.sales) == 1
    assert len(rt.events) == 1


def test_a_create_interrupted_after_the_post_is_found_not_repeated(rt, tenant):
    key = "flow1.p2:step"
    Ledger(rt.plugin_store("superoffice")).begin(key)  # the crashed run marked it pending ...
    tenant._post_sale(
        None,
        None,
        {"Heading": "Offer", "Amount": 5, "Person": {"PersonId": 17}, "SaleText": reference(key)},
    )
    sale = rt.crm.create_sale("17", "Offer", 5.0, idempotency_key=key)  # ... and the retry finds it
    assert len(tenant.sales) == 1 and sale["id"] in tenant.sales
    assert tenant.calls("POST", "Sale") == 0
    assert tenant.filters("Sale") == [f"person/personId eq 17 and description contains '{reference(key)}'"]


def test_interrupted_follow_up_and_request_are_found_not_repeated(rt, tenant):
    key = "flow1.p3:step"
    Ledger(rt.plugin_store("superoffice")).begin(key)
    tenant._post_appointment(
        None,
        None,
        {
            "Type": "inChecklist",
            "Completed": "NotStarted",
            "Person": {"PersonId": 17},
            "Description": f"Call\n{reference(key)}",
        },
    )
    rt.crm.create_follow_up("17", "Call", idempotency_key=key)
    assert len(tenant.appointments) == 1 and tenant.calls("POST", "Appointment") == 0

    # the crash came between POST Ticket and POST TicketMessage: the retry finds the ticket
    # without messages and gives it its first message instead of making a second ticket
    key = "flow1.p4:step"
    Ledger(rt.plugin_store("superoffice")).begin(key)
    tenant._post_ticket(None, None, {"Title": "Help", "Person": {"PersonId": 17}})
    request = rt.crm.create_request("17", "Help", first_message="Hi", idempotency_key=key)
    assert len(tenant.tickets) == 1 and tenant.calls("POST", "Ticket") == 0
    assert tenant.messages[0]["Body"] == f"Hi\n\n{reference(key)}"
    assert request["id"] in tenant.tickets

    # and a ticket whose message carries the reference is found through the TicketMessage archive
    key = "flow1.p5:step"
    Ledger(rt.plugin_store("superoffice")).begin(key)
    made = tenant._post_ticket(None, None, {"Title": "Other", "Person": {"PersonId": 17}})[1]
    tenant._post_message(
        None, None, {"Ticket": {"TicketId": made["TicketId"]}, "Body": f"x {reference(key)}"}
    )
    assert rt.crm.create_request("17", "Other", idempotency_key=key)["id"] == str(made["TicketId"])
    assert len(tenant.tickets) == 2 and len(tenant.messages) == 2


def test_run_script_and_a_tenant_that_does_not_allow_it(rt, tenant):
    assert rt.crm.run_script("score", "17", {}, idempotency_key="x") == "scored person 17"
    tenant.script_status = 403
    with pytest.raises(CrmError, match="does not let superflow run CRMScripts"):
        rt.crm.run_script("score", "17", {}, idempotency_key="y")


def test_withdraw_consent_on_unsubscribe(rt, tenant):
    rt.crm.set_consent("17", "emarketing", False, idempotency_key="u1")
    assert tenant.calls("DELETE", "Person/17/Consent/EMARKETING") == 1
    assert rt.crm.get_person("17")["consents"]["emarketing"] is False
    assert [(e.type, e.data) for e in rt.events] == [
        ("consent.changed", {"purpose": "emarketing", "granted": False})
    ]
    rt.crm.set_consent("18", "emarketing", False, idempotency_key="u1b")  # already withdrawn
    assert tenant.calls("DELETE", "Person/18/Consent/EMARKETING") == 0 and len(rt.events) == 1
    rt.crm.set_subscription("17", "Newsletter", False, idempotency_key="u2")
    assert tenant.entities["17"]["ShipmentTypes"][0]["Selected"] is False
    assert rt.crm.get_person("17")["subscriptions"] == {"newsletter": False, "events": True}


def test_grant_consent_names_source_and_legal_base(rt, tenant):
    record = rt.crm.set_consent("18", "emarketing", True, idempotency_key="g1")
    [put] = [c for c in tenant.rsps.calls if c.request.method == "PUT"]
    assert "/Person/18/Consent/EMARKETING?" in put.request.url
    assert "legalBase=CONSENT" in put.request.url and "source=USER" in put.request.url
    assert record["legal_basis"] == "CONSENT"
    assert rt.crm.get_person("18")["consents"]["emarketing"] is True
    assert [e.type for e in rt.events] == ["consent.changed"]


def test_associates_sales_requests_diary_and_time_zone(rt, tenant):
    assert rt.crm.list_associates() == [
        {"id": "2", "name": "Sam Seller", "email": "sam@so.test", "mobile": None}
    ]  # inactive users are left out
    rt.crm.create_sale("17", "Offer", 10.0, idempotency_key="s9")
    [sale] = rt.crm.list_sales("17")
    assert sale["title"] == "Offer" and sale["stage"] == "open"
    assert tenant.filters("Sale")[-1] == "person/personId eq 17"
    rt.crm.create_request("17", "Help", category="Support", idempotency_key="r9")
    assert [r["title"] for r in rt.crm.list_requests("17")] == ["Help"]
    tenant.diary = [
        {
            "AppointmentId": 1,
            "AssociateId": 2,
            "Description": "Busy\nwith Ada",
            "StartDate": "2026-05-04T09:00:00",
            "EndDate": "2026-05-04T10:00:00",
        }
    ]
    [busy] = rt.crm.list_follow_ups("2", 1777885200.0, 1777971600.0)
    assert busy == {
        "id": "1",
        "title": "Busy",
        "starts_at": "2026-05-04T09:00:00",
        "ends_at": "2026-05-04T10:00:00",
        "owner": "2",
    }
    [diary] = [c for c in tenant.rsps.calls if c.request.url.endswith("GetAssociateDiary")]
    assert json.loads(diary.request.body)["StartTime"] == "2026-05-04T09:00:00"
    assert rt.crm.tenant_time_zone() == {"id": "140", "name": "Norway", "code": "NO", "cities": "Oslo"}


def test_step_types_run_against_the_webapi(rt, tenant, sf_run_jobs):
    from superflow.testing import flow_doc
    from superflow.testing import participant_of
    from superflow.testing import signed_up
    from superflow.testing import started

    rt.crm.emit = rt.emit
    steps = [
        {"id": "tag", "type": "add_to_selection", "settings": {"selection": "5"}},
        {"id": "sale", "type": "create_sale", "settings": {"title": "Offer", "amount": 100}},
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, "17")
    sf_run_jobs(rt)
    notes = [h["note"] for h in rt.store.history(participant_of(rt, flow, "17").id)]
    assert tenant.selection_members["5"] == {"17"} and len(tenant.sales) == 1, notes
    assert participant_of(rt, flow, "17").status == "completed"


# -- the client: auth, retries, errors ---------------------------------------------------------
def client(rt, **changes):
    from dataclasses import replace

    slept = []
    config = replace(rt.config, extra={**SETTINGS, **changes})
    return SuperOfficeClient(config, sleep=slept.append), slept


def test_an_expired_token_is_refreshed_once(rt, tenant):
    c, _ = client(rt)
    assert c.get("Person/17", "test")["PersonId"] == 17
    assert c._token == "valid-token"
    assert len([x for x in tenant.rsps.calls if "oauth/tokens" in x.request.url]) == 1


def test_429_honours_retry_after_and_500_backs_off(rt, tenant):
    c, slept = client(rt, superoffice_retries="3")
    tenant.rsps.add("GET", API + "/Ping", status=429, headers={"Retry-After": "7"})
    tenant.rsps.add("GET", API + "/Ping", status=500)
    tenant.rsps.add("GET", API + "/Ping", json=[{"AssociateId": 2, "FullName": "Sam Seller"}])
    c._token = "valid-token"
    assert c.get("Ping", "ping") == [{"AssociateId": 2, "FullName": "Sam Seller"}]
    assert slept == [7.0, 1.0]


def test_errors_name_the_call_and_superoffice_s_message(rt, tenant):
    c, _ = client(rt, superoffice_retries="1")
    c._token = "valid-token"
    with pytest.raises(  # the message is the error body's ErrorMessage, not its "Error": true
        SuperOfficeError, match=r"create_sale: POST Sale failed \(400\): Field 'Heading' must not be"
    ):
        c.post("Sale", "create_sale", {"Heading": "", "Person": {"PersonId": 17}})
    with pytest.raises(NotFound, match="get: GET Person/404: not found"):
        c.get("Person/404", "get")
    tenant.rsps.add("GET", API + "/Ping", status=503)
    tenant.rsps.add("GET", API + "/Ping", status=503)
    with pytest.raises(SuperOfficeError, match=r"GET Ping failed \(503\)") as err:
        c.get("Ping", "ping")
    assert err.value.status == 503


def test_a_refused_refresh_is_a_clear_error(rt, tenant):
    c, _ = client(rt)
    tenant.refresh_status = 400
    with pytest.raises(SuperOfficeError, match="token refresh at .* failed \\(400\\): invalid_grant"):
        c.get("Person/17", "test")


def test_system_user_ticket(rt, tenant):
    c, _ = client(
        rt,
        superoffice_access_token="",
        superoffice_refresh_token="",
        superoffice_ticket="7T:abc",
    )
    tenant.rsps.add("GET", API + "/Ping", json=[])
    c.get("Ping", "x")
    sent = tenant.rsps.calls[-1].request.headers
    assert sent["Authorization"] == "SOTicket 7T:abc" and sent["SO-AppToken"] == "app-secret"


def test_fixtures_note_their_endpoint():
    from test_superoffice_fake import FIXTURES

    for path in FIXTURES.glob("*.json"):
        notes = json.loads(path.read_text())
        assert notes["_endpoint"] and "docs/" in notes["_doc"], path.name
    assert fixture("sale_entity.json")["SaleId"] == 527331
