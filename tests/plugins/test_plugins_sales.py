"""The sales plugin: the "create sale" step, the "sale created" trigger and success
criterion, through the engine on a real Redis and the local CRM."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

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
    fjord = crm.create_company("Fjord Analytics AS", our_contact=kari)
    ada = crm.create_person(first_name="Ada", last_name="Lovelace", company_id=fjord["id"])["id"]
    solo = crm.create_person(first_name="Solo", email="solo@example.com")["id"]
    return SimpleNamespace(kari=kari, ola=ola, ada=ada, solo=solo)


def sale_step(**settings):
    return {
        "id": "sale",
        "type": "create_sale",
        "settings": {"title": "Renewal {{ company.name or 'private' }}", **settings},
    }


def notes(rt, participant, step):
    return [h["note"] for h in rt.store.history(participant.id) if h["step"] == step and h["kind"] == "step"]


def test_create_sale_registers_the_sale_with_its_owner_and_dates(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    settings = {
        "sale_type": "Renewal",
        "amount": 12000,
        "stage": "proposal",
        "probability": 40,
        "expected_in_days": 30,
        "owner": {"rule": "our_contact"},
    }
    flow = started(rt, flow_doc([sale_step(**settings)], timezone="Europe/Oslo"))
    signed_up(rt, office.ada, office.solo)
    sf_run_jobs()

    today = dt.datetime.fromtimestamp(rt.clock.now(), ZoneInfo("Europe/Oslo")).date()
    (sale,) = crm.list_sales(office.ada)
    assert sale["title"] == "Renewal Fjord Analytics AS"
    assert (sale["sale_type"], sale["amount"], sale["stage"], sale["probability"]) == (
        "Renewal",
        12000,
        "proposal",
        40,
    )
    assert sale["expected_date"] == (today + dt.timedelta(days=30)).isoformat()
    assert sale["owner"] == office.kari
    # Solo has no company, so no our contact: the sale is made unassigned, and the history says why.
    (private,) = crm.list_sales(office.solo)
    assert private["title"] == "Renewal private" and private["owner"] is None

    ada = participant_of(rt, flow, office.ada)
    assert ada.status == "completed"
    assert notes(rt, ada, "sale") == [
        f"sale {sale['id']} 'Renewal Fjord Analytics AS' of 12,000 created,"
        " owned by Kari Nordmann (our contact)"
    ]
    solo_notes = notes(rt, participant_of(rt, flow, office.solo), "sale")
    assert solo_notes[0].endswith("owned by nobody (unassigned: the person has no company)")
    stats = rt.store.stats(flow.id)
    assert stats["step:sale:sales.created"] == 2 and stats["sales.amount"] == 24000


def test_owner_fallbacks_name_the_associate_or_exit_with_the_reason(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    to_ola = started(
        rt,
        flow_doc(
            [
                sale_step(
                    owner={"rule": "our_service_contact", "fallback": "associate", "associate": office.ola}
                )
            ],
            name="Fallback to Ola",
        ),
    )
    strict = started(
        rt,
        flow_doc([sale_step(owner={"rule": "our_service_contact", "fallback": "exit"})], name="Strict"),
    )
    signed_up(rt, office.ada)
    sf_run_jobs()

    (sale,) = crm.list_sales(office.ada)
    assert sale["owner"] == office.ola
    assert participant_of(rt, to_ola, office.ada).status == "completed"
    p = participant_of(rt, strict, office.ada)
    assert p.status == "exited"
    assert (
        p.reason == "sale not created: no our service contact: Fjord Analytics AS has no our service contact"
    )


def test_a_named_owner_that_does_not_exist_exits_with_the_crm_reason(sf_runtime, sf_run_jobs, crm, office):
    flow = started(sf_runtime, flow_doc([sale_step(owner={"rule": "associate", "associate": "999"})]))
    signed_up(sf_runtime, office.ada)
    sf_run_jobs()
    p = participant_of(sf_runtime, flow, office.ada)
    assert p.status == "exited" and "associate 999 does not exist" in p.reason
    assert crm.list_sales(office.ada) == []


def test_running_the_step_again_after_a_crash_creates_one_sale(
    sf_runtime, sf_run_jobs, crm, office, monkeypatch
):
    rt = sf_runtime
    flow = started(rt, flow_doc([sale_step(amount=500), WAIT]))
    rt.engine.handle_events([Event("api.event", office.ada, {"name": "signed_up"})])
    pid = participant_of(rt, flow, office.ada).id

    crash_after_effects(rt, [pid])
    assert len(crm.list_sales(office.ada)) == 1  # the effect happened, the step was not recorded

    rt.engine.advance([pid])
    sf_run_jobs()
    assert len(crm.list_sales(office.ada)) == 1
    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)["step:sale:sales.created"] == 1


def test_sale_created_trigger_enrols_on_a_colleagues_sale_that_passes_the_filters(
    sf_runtime, sf_run_jobs, crm, office
):
    rt = sf_runtime
    trigger = {"type": "sale_created", "settings": {"sale_type": "New business", "min_amount": 1000}}
    flow = started(rt, flow_doc([WAIT], trigger=trigger))
    grace = crm.create_person(first_name="Grace")["id"]

    crm.create_sale(office.ada, "Big deal", 5000, sale_type="new business", owner=office.kari)
    crm.create_sale(office.solo, "Small deal", 500, sale_type="New business")
    crm.create_sale(grace, "Renewal", 9000, sale_type="Renewal")
    sf_run_jobs()

    assert participant_of(rt, flow, office.ada).source == "sale.created"
    assert participant_of(rt, flow, office.solo) is None
    assert participant_of(rt, flow, grace) is None


def test_sale_created_criterion_counts_a_colleagues_sale_and_the_flows_own(
    sf_runtime, sf_run_jobs, crm, office
):
    rt = sf_runtime
    success = {"criteria": [{"type": "sale_created", "settings": {}}]}
    waiting = started(rt, flow_doc([WAIT], success=success, name="Waiting"))
    selling = started(
        rt,
        flow_doc(
            [sale_step(), WAIT], success=success, trigger={"type": "manual", "settings": {}}, name="Selling"
        ),
    )
    signed_up(rt, office.ada, office.solo)
    sf_run_jobs()

    crm.create_sale(office.ada, "Bought by phone", 100, owner=office.kari)  # a colleague, in the CRM
    assert rt.engine.enrol(selling.id, [office.solo], "manual")
    sf_run_jobs()

    ada = participant_of(rt, waiting, office.ada)
    assert ada.status == "succeeded" and ada.reason == "success: sale.created"
    # The flow's own sale counts too, in every flow the person is in.
    assert participant_of(rt, selling, office.solo).status == "succeeded"
    assert participant_of(rt, waiting, office.solo).status == "succeeded"


def test_settings_are_checked_with_the_field_named(sf_runtime, office):
    rt = sf_runtime
    invalid = refused_save(rt, flow_doc([sale_step(amount="lots", probability=150, colour="red")]))
    assert {(e["field"], e["message"]) for e in invalid} == {
        ("steps[0].settings.amount", "Not a valid number."),
        (
            "steps[0].settings.probability",
            "Must be greater than or equal to 0 and less than or equal to 100.",
        ),
        ("steps[0].settings.colour", "Unknown field."),
    }
    not_ready = refused_start(rt, flow_doc([sale_step(title="For {{ person.shoe_size }}")]))
    assert any("unknown merge tag {{ person.shoe_size }}" in p for p in not_ready)
    invalid = refused_save(rt, flow_doc([sale_step(owner={"rule": "everyone"})]))
    assert invalid[0]["field"] == "steps[0].settings.owner.rule"

    assert refused_start(
        rt, flow_doc([{"id": "s", "type": "create_sale", "settings": {"owner": {"rule": "associate"}}}])
    ) == ["Step 1 'Create sale': Title is required"]
    assert refused_start(rt, flow_doc([sale_step(owner={"rule": "associate"})])) == [
        "Step 1 'Create sale': Owner, Associate: choose the associate"
    ]
    invalid = refused_save(
        rt, flow_doc([WAIT], trigger={"type": "sale_created", "settings": {"min_amount": "big"}})
    )
    assert invalid == [{"field": "trigger.settings.min_amount", "message": "Not a valid number."}]


def test_components_describe_themselves(sf_runtime):
    registry = sf_runtime.registry
    step = registry.step_type("create_sale")
    assert step.category == "Sales"
    assert step.describe(
        {"title": "Renewal", "amount": 1200, "owner": {"rule": "associate", "associate": "2"}}
    ) == ("Create sale 'Renewal' of 1,200, owned by associate 2")
    assert registry.trigger("sale_created").describe({"sale_type": "Renewal", "min_amount": 100}) == (
        "When a sale of type 'Renewal' and of at least 100 is created"
    )
    assert registry.criterion("sale_created").describe({}) == "When a sale is created for the person"
    for component in (step, registry.trigger("sale_created"), registry.criterion("sale_created")):
        for name, field in component.settings_schema().fields.items():
            assert field.metadata.get("label") and field.metadata.get("help"), f"{component.name}.{name}"
