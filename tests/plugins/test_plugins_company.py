"""The company plugin: category and business filters, and the "company changed"
trigger on the events the local CRM emits."""

from __future__ import annotations

import pytest

from superflow.events import Event
from superflow.testing import admitted_by_each
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def enrolled(rt, flow, person_ids):
    return {pid for pid in person_ids if participant_of(rt, flow, pid) is not None}


@pytest.fixture
def staff(crm):
    """Ada at a customer in IT, Bjorn at a prospect in retail, Cecilie with no company."""
    customer = crm.create_company(name="Fjord AS", category="Customer", business="IT")
    prospect = crm.create_company(name="Butikk AS", category="Prospect", business="Retail")
    return {
        "Ada": crm.create_person(first_name="Ada", company_id=customer["id"])["id"],
        "Bjorn": crm.create_person(first_name="Bjorn", company_id=prospect["id"])["id"],
        "Cecilie": crm.create_person(first_name="Cecilie")["id"],
    }


def test_category_and_business_filters(sf_runtime, staff):
    rt = sf_runtime
    cases = [
        ("company_category", {"values": ["customer"]}, {"Ada"}),
        ("company_category", {"values": ["Customer", "Prospect"]}, {"Ada", "Bjorn"}),
        ("company_category", {"values": ["Customer"], "operator": "not_in"}, {"Bjorn", "Cecilie"}),
        ("company_business", {"values": ["Retail"]}, {"Bjorn"}),
        ("company_business", {"values": ["IT"], "operator": "not_in"}, {"Bjorn", "Cecilie"}),
    ]
    admitted = admitted_by_each(rt, staff, [(kind, settings) for kind, settings, _ in cases], [WAIT])
    for (kind, settings, expected), names in zip(cases, admitted, strict=True):
        assert names == expected, (kind, settings)


def test_company_changed_fires_on_changes_of_company_fields(sf_runtime, sf_run_jobs, crm, staff):
    rt = sf_runtime
    sf_run_jobs()
    any_field = started(rt, flow_doc([WAIT], trigger={"type": "company_changed", "settings": {}}))
    to_customer = started(
        rt,
        flow_doc(
            [WAIT],
            name="Became a customer",
            trigger={"type": "company_changed", "settings": {"fields": ["category"], "value": "Customer"}},
        ),
    )
    # A colleague changes Bjorn's company through Bjorn, and Cecilie's own language.
    crm.update_person(staff["Bjorn"], {"company.category": "Customer"})
    crm.update_person(staff["Cecilie"], {"language": "nb"})
    crm.update_person(staff["Ada"], {"company.business": "Consulting"})
    sf_run_jobs()
    assert enrolled(rt, any_field, staff.values()) == {staff["Ada"], staff["Bjorn"]}
    assert enrolled(rt, to_customer, staff.values()) == {staff["Bjorn"]}
    assert participant_of(rt, to_customer, staff["Bjorn"]).source == "person.updated"


def test_company_changed_takes_company_updated_events(sf_runtime, sf_run_jobs, staff):
    rt = sf_runtime
    sf_run_jobs()
    flow = started(
        rt,
        flow_doc([WAIT], trigger={"type": "company_changed", "settings": {"fields": ["company.category"]}}),
    )
    rt.emit(
        [
            Event("company.updated", staff["Ada"], {"company_id": "1", "changes": {"category": ["A", "B"]}}),
            Event(
                "company.updated", staff["Bjorn"], {"company_id": "2", "changes": {"business": ["x", "y"]}}
            ),
        ]
    )
    sf_run_jobs()
    assert enrolled(rt, flow, staff.values()) == {staff["Ada"]}
    assert participant_of(rt, flow, staff["Ada"]).source == "company.updated"


def test_bad_settings_are_named(sf_runtime):
    filters = {
        "op": "and",
        "conditions": [
            {"type": "company_category", "settings": {"values": "Customer"}},
            {"type": "company_business", "settings": {"values": ["IT"], "operator": "like"}},
        ],
    }
    errors = {e["field"]: e["message"] for e in refused_save(sf_runtime, flow_doc([WAIT], filters=filters))}
    assert errors == {
        "filters.conditions[0].settings.values": "Not a valid list.",
        "filters.conditions[1].settings.operator": "Must be one of: in, not_in.",
    }
