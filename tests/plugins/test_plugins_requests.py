"""The requests plugin: the "create request" step with its owner rules (by category,
a named associate, nobody), and "request created" as trigger and success criterion."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from superflow.events import Event
from superflow.testing import crash_after_effects
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 3, "unit": "days"}}


@pytest.fixture
def office(crm):
    kari = crm.create_associate("Kari Nordmann", email="kari@superflow.test")["id"]
    ola = crm.create_associate("Ola Hansen", email="ola@superflow.test")["id"]
    crm.create_request_category("Billing", default_owner=ola)
    crm.create_request_category("Feedback")
    fjord = crm.create_company("Fjord Analytics AS", our_contact=kari, our_service_contact=ola)
    ada = crm.create_person(first_name="Ada", last_name="Lovelace", company_id=fjord["id"])["id"]
    solo = crm.create_person(first_name="Solo")["id"]
    return SimpleNamespace(kari=kari, ola=ola, ada=ada, solo=solo)


def request_step(step_id="rq", **settings):
    return {
        "id": step_id,
        "type": "create_request",
        "settings": {"title": "Invoice for {{ company.name or person.full_name }}", **settings},
    }


def test_create_request_assigned_by_category(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    settings = {
        "category": "Billing",
        "priority": "high",
        "status": "in_progress",
        "first_message": "Hi {{ person.first_name }}, we sent the invoice for {{ flow.name }}.",
    }
    flow = started(rt, flow_doc([request_step(**settings)], name="Invoices"))
    signed_up(rt, office.ada)
    sf_run_jobs()

    (request,) = crm.list_requests(office.ada)
    assert request["title"] == "Invoice for Fjord Analytics AS"
    assert (request["category"], request["priority"], request["status"]) == ("Billing", "high", "in_progress")
    assert request["first_message"] == "Hi Ada, we sent the invoice for Invoices."
    assert request["owner"] == office.ola  # Billing's default owner
    p = participant_of(rt, flow, office.ada)
    notes = [h["note"] for h in rt.store.history(p.id) if h["step"] == "rq" and h["kind"] == "step"]
    assert notes == [
        f"request {request['id']} 'Invoice for Fjord Analytics AS' created, assigned to Ola Hansen"
        " (default owner of category 'Billing')"
    ]
    assert rt.store.stats(flow.id)["requests.created"] == 1


def test_other_owner_rules(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    steps = [
        request_step("no_default", category="Feedback"),
        request_step(
            "strict",
            category="Feedback",
            owner={"rule": "by_category", "fallback": "associate", "associate": office.kari},
        ),
        request_step("named", owner={"rule": "associate", "associate": office.kari}),
        request_step("nobody", category="Billing", owner={"rule": "unassigned"}),
        request_step("service", owner={"rule": "our_service_contact", "fallback": "exit"}),
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, office.ada, office.solo)
    sf_run_jobs()

    owners = [(r["category"], r["owner"]) for r in crm.list_requests(office.ada)]
    assert owners == [
        ("Feedback", None),  # Feedback has no default owner: unassigned
        ("Feedback", office.kari),  # ... or the named fallback
        (None, office.kari),
        ("Billing", None),
        (None, office.ola),
    ]
    assert participant_of(rt, flow, office.ada).status == "completed"
    assert len(crm.list_requests(office.solo)) == 4
    solo = participant_of(rt, flow, office.solo)
    assert solo.status == "exited"
    assert solo.reason == "request not created: no our service contact: the person has no company"


def test_running_the_step_again_after_a_crash_creates_one_request(
    sf_runtime, sf_run_jobs, crm, office, monkeypatch
):
    rt = sf_runtime
    flow = started(rt, flow_doc([request_step(category="Billing"), WAIT]))
    rt.engine.handle_events([Event("api.event", office.ada, {"name": "signed_up"})])
    pid = participant_of(rt, flow, office.ada).id

    crash_after_effects(rt, [pid])
    assert len(crm.list_requests(office.ada)) == 1

    rt.engine.advance([pid])
    sf_run_jobs()
    assert len(crm.list_requests(office.ada)) == 1
    assert rt.store.participant(pid).step == "w"


def test_request_created_trigger_and_criterion_follow_colleagues_requests(
    sf_runtime, sf_run_jobs, crm, office
):
    rt = sf_runtime
    billing = started(
        rt,
        flow_doc(
            [WAIT], trigger={"type": "request_created", "settings": {"category": "billing"}}, name="Billing"
        ),
    )
    success = {"criteria": [{"type": "request_created", "settings": {"priority": "urgent"}}]}
    waiting = started(rt, flow_doc([WAIT], success=success, name="Waiting"))
    signed_up(rt, office.ada, office.solo)
    sf_run_jobs()

    crm.create_request(office.ada, "Wrong invoice", category="Billing", priority="urgent")
    crm.create_request(office.solo, "Nice product", category="Feedback")
    sf_run_jobs()

    assert participant_of(rt, billing, office.ada).source == "request.created"
    assert participant_of(rt, billing, office.solo) is None
    ada = participant_of(rt, waiting, office.ada)
    assert ada.status == "succeeded" and ada.reason == "success: request.created"
    assert participant_of(rt, waiting, office.solo).status == "active"


def test_settings_are_checked_with_the_field_named(sf_runtime):
    rt = sf_runtime
    invalid = refused_save(
        rt, flow_doc([request_step(status="pending", priority=3, first_message="{{ persn.name }}")])
    )
    assert {(e["field"], e["message"]) for e in invalid} == {
        ("steps[0].settings.status", "Must be one of: open, in_progress, waiting, closed."),
        ("steps[0].settings.priority", "Not a valid string."),
    }, "an unknown merge tag is a problem for start, not an error (drafts save)"
    assert refused_start(
        rt,
        flow_doc(
            [
                request_step("a"),
                request_step("b", category="Billing", owner={"rule": "associate"}),
                {"id": "c", "type": "create_request", "settings": {"owner": {"rule": "unassigned"}}},
            ]
        ),
    ) == [
        "Step 1 'Create request': Category: choose a category (the owner is chosen by category)",
        "Step 2 'Create request': Owner, Associate: choose the associate",
        "Step 3 'Create request': Title is required",
    ]


def test_components_describe_themselves(sf_runtime):
    registry = sf_runtime.registry
    step = registry.step_type("create_request")
    assert step.describe({"title": "Invoice", "category": "Billing"}) == (
        "Create request 'Invoice' in Billing, for the category's default owner"
    )
    trigger = registry.trigger("request_created")
    assert trigger.describe({"category": "Billing", "priority": "high"}) == (
        "When a request (high priority, in Billing) is created"
    )
    for component in (step, trigger, registry.criterion("request_created")):
        assert component.category == "Customer service"
        for name, field in component.settings_schema().fields.items():
            assert field.metadata.get("label") and field.metadata.get("help"), f"{component.name}.{name}"
