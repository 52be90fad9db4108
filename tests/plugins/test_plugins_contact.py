"""The contact plugin: update contact, the contact triggers, filters and criteria,
driven through the engine by real changes in the local CRM."""

from __future__ import annotations

import datetime as dt

import pytest

from superflow.events import Event
from superflow.testing import admitted_by_each
from superflow.testing import crash_after_effects
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def enrolled(rt, flow, person_ids):
    return {pid for pid in person_ids if participant_of(rt, flow, pid) is not None}


def update_step(*changes, step_id="u"):
    return {"id": step_id, "type": "update_contact", "settings": {"changes": list(changes)}}


@pytest.fixture
def fields(crm):
    crm.define_field("score", "Score", "number")
    crm.define_field("segment", "Segment", "list", choices=["A", "B", "C"])
    crm.define_field("renewal", "Renewal", "date")
    crm.define_field("last_seen", "Last seen", "datetime")
    crm.define_field("vip", "VIP", "bool")
    crm.define_field("note", "Note", "text")


def today(rt, days=0):
    return (dt.datetime.fromtimestamp(rt.clock.now(), dt.UTC) + dt.timedelta(days=days)).date()


# -- update contact -----------------------------------------------------------------
def test_update_contact_sets_adds_and_moves_dates_by_field_type(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    company = crm.create_company(name="Fjord AS", category="Prospect")
    ada = crm.create_person(
        first_name="Ada", score=10, segment="A", note="old", vip=False, company_id=company["id"]
    )["id"]
    step = update_step(
        {"field": "note", "action": "set", "value": "called back"},
        {"field": "score", "action": "add", "value": 5},
        {"field": "segment", "action": "set", "value": "B"},
        {"field": "renewal", "action": "set_relative", "value": "+3 days"},
        {"field": "last_seen", "action": "set_now"},
        {"field": "vip", "action": "set", "value": True},
        {"field": "company.category", "action": "set", "value": "Customer"},
        {"field": "language", "action": "set", "value": "nb"},
    )
    flow = started(rt, flow_doc([step]))
    signed_up(rt, ada)
    sf_run_jobs()

    person = crm.get_person(ada)
    assert person["fields"]["note"] == "called back"
    assert person["fields"]["score"] == 15
    assert person["fields"]["segment"] == "B"
    assert person["fields"]["renewal"] == today(rt, 3).isoformat()
    seen = dt.datetime.fromisoformat(person["fields"]["last_seen"])
    assert abs(seen.timestamp() - rt.clock.now()) < 60
    assert person["fields"]["vip"] is True
    assert person["company"]["category"] == "Customer"
    assert person["language"] == "nb"
    p = participant_of(rt, flow, ada)
    assert p.status == "completed"
    (note,) = [h["note"] for h in rt.store.history(p.id) if h["kind"] == "step"]
    assert note.startswith("updated ") and "score 10 → 15" in note
    assert rt.store.stats(flow.id)["contact.updated"] == 1


def test_update_contact_clears_and_subtracts(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    bjorn = crm.create_person(
        first_name="Bjorn",
        score=10,
        segment="C",
        note="x",
        renewal="2025-01-31",
        last_seen="2025-01-01T10:00:00",
    )["id"]
    step = update_step(
        {"field": "score", "action": "subtract", "value": 2.5},
        {"field": "segment", "action": "clear"},
        {"field": "note", "action": "clear"},
        {"field": "renewal", "action": "clear"},
        {"field": "last_seen", "action": "set", "value": "2026-03-01T08:00:00+01:00"},
    )
    started(rt, flow_doc([step]))
    signed_up(rt, bjorn)
    sf_run_jobs()
    extra = crm.get_person(bjorn)["fields"]
    assert extra["score"] == 7.5
    assert extra["segment"] is None and extra["note"] is None and extra["renewal"] is None
    assert extra["last_seen"] == "2026-03-01T08:00:00+01:00"


def test_set_now_on_a_date_uses_the_persons_time_zone(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    # Kiribati is 14 hours ahead of UTC: from 10:00 UTC it is already tomorrow there.
    rt.clock.advance(_seconds_until_utc(rt, 10))
    kiri = crm.create_person(first_name="Kiri", timezone="Pacific/Kiritimati")["id"]
    utc = crm.create_person(first_name="Utc")["id"]
    started(rt, flow_doc([update_step({"field": "renewal", "action": "set_now"})]))
    signed_up(rt, kiri, utc)
    sf_run_jobs()
    assert crm.get_person(utc)["fields"]["renewal"] == today(rt).isoformat()
    assert crm.get_person(kiri)["fields"]["renewal"] == today(rt, 1).isoformat()


def _seconds_until_utc(rt, hour):
    now = dt.datetime.fromtimestamp(rt.clock.now(), dt.UTC)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += dt.timedelta(days=1)
    return (target - now).total_seconds()


def test_a_run_after_a_crash_changes_nothing_twice(sf_runtime, sf_run_jobs, crm, fields, monkeypatch):
    rt = sf_runtime
    ada = crm.create_person(first_name="Ada", score=10)["id"]
    sf_run_jobs()
    flow = started(rt, flow_doc([update_step({"field": "score", "action": "add", "value": 5}), WAIT]))
    rt.engine.handle_events([Event("api.event", ada, {"name": "signed_up"})])
    pid = participant_of(rt, flow, ada).id

    # The worker dies after the CRM write and before the engine stores the step.
    crash_after_effects(rt, [pid])
    assert crm.get_person(ada)["fields"]["score"] == 15
    assert rt.store.participant(pid).step == "u"

    rt.engine.advance([pid])
    sf_run_jobs()
    assert crm.get_person(ada)["fields"]["score"] == 15, "the add ran again but was applied once"
    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)["contact.updated"] == 1


def test_unknown_field_and_wrong_action_exit_with_the_field_named(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    ada, bjorn = (crm.create_person(first_name=n)["id"] for n in ("Ada", "Bjorn"))
    unknown = started(
        rt, flow_doc([update_step({"field": "shoe_size", "action": "set", "value": 44})], name="A")
    )
    wrong = started(rt, flow_doc([update_step({"field": "note", "action": "add", "value": 1})], name="B"))
    signed_up(rt, ada)
    sf_run_jobs()
    p = participant_of(rt, unknown, ada)
    assert p.status == "exited"
    assert p.reason == "update failed: unknown field 'shoe_size': the CRM has no such person or company field"
    p = participant_of(rt, wrong, ada)
    assert p.status == "exited"
    assert p.reason == "update failed: cannot add 'note': it is a text field (it can be: set, clear)"
    assert rt.store.stats(unknown.id)["exited"] == 1
    assert bjorn not in enrolled(rt, unknown, [bjorn])


def test_one_bad_value_in_a_batch_exits_only_its_participant(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    company = crm.create_company(name="Fjord AS")
    ada = crm.create_person(first_name="Ada", company_id=company["id"])["id"]
    loner = crm.create_person(first_name="Loner")["id"]
    step = update_step({"field": "company.business", "action": "set", "value": "IT"})
    flow = started(rt, flow_doc([step]))
    signed_up(rt, ada, loner)
    sf_run_jobs()
    assert crm.get_person(ada)["company"]["business"] == "IT"
    assert participant_of(rt, flow, ada).status == "completed"
    p = participant_of(rt, flow, loner)
    assert p.status == "exited"
    assert p.reason == "update failed: cannot change 'company.business': the person has no company"


def test_a_value_the_crm_refuses_names_the_field(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    ada = crm.create_person(first_name="Ada")["id"]
    flow = started(rt, flow_doc([update_step({"field": "segment", "action": "set", "value": "Z"})]))
    signed_up(rt, ada)
    sf_run_jobs()
    p = participant_of(rt, flow, ada)
    assert p.status == "exited" and "'segment'" in p.reason and "'Z'" in p.reason


def test_readiness_checks_actions_and_values_it_can_know(sf_runtime):
    doc = flow_doc(
        [
            update_step(
                {"field": "email", "action": "add", "value": 1},
                {"field": "score", "action": "set"},
                {"field": "renewal", "action": "set_relative", "value": "soon"},
                {"field": "points", "action": "subtract", "value": "many"},
                {"field": "birth_date", "action": "set", "value": "2nd of May"},
                {"field": "shoe size", "action": "clear"},
                {"field": "email", "action": "clear"},
            )
        ]
    )
    refused = refused_start(sf_runtime, doc)
    where = "Step 1 'Update contact': "
    assert refused == [
        where + "Changes 1, Action: cannot add 'email': it is a text field (it can be: set, clear)",
        where + "Changes 2, Value is required to set 'score' (use clear to empty it)",
        where + "Changes 3, Value: 'soon' is not a time relative to now such as '+3 days' or '-2 hours'",
        where + "Changes 4, Value: subtract needs a number, not 'many'",
        where + "Changes 5, Value: '2nd of May' is not a date such as '2024-05-01'",
        where + "Changes 6, Field: 'shoe size' is not a valid field name (use letters, digits and _;"
        " company fields start with 'company.')",
        where + "Changes 7, Field: 'email' is changed twice in this step",
    ]


def test_wrong_types_and_missing_fields_are_named_on_save(sf_runtime):
    doc = flow_doc([update_step({"field": 5, "action": "multiply"}, {"value": 1})])
    errors = {e["field"]: e["message"] for e in refused_save(sf_runtime, doc)}
    assert errors["steps[0].settings.changes[0].field"] == "Not a valid string."
    assert errors["steps[0].settings.changes[0].action"].startswith("Must be one of: set, clear, add")
    # A missing field of a change is reported when the flow starts.
    doc = flow_doc([update_step({"action": "clear"})])
    assert refused_start(sf_runtime, doc) == ["Step 1 'Update contact': Changes 1, Field is required"]


# -- triggers -------------------------------------------------------------------------
def test_person_created_enrols_new_persons(sf_runtime, sf_run_jobs, crm):
    before = crm.create_person(first_name="Before")["id"]
    sf_run_jobs()
    flow = started(sf_runtime, flow_doc([WAIT], trigger={"type": "person_created", "settings": {}}))
    after = crm.create_person(first_name="After")["id"]
    sf_run_jobs()
    assert enrolled(sf_runtime, flow, [before, after]) == {after}
    assert participant_of(sf_runtime, flow, after).source == "person.created"


def test_field_changed_fires_for_the_chosen_fields_and_value(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    ada, bjorn, cecilie, dag = (
        crm.create_person(first_name=n)["id"] for n in ("Ada", "Bjorn", "Cecilie", "Dag")
    )
    sf_run_jobs()
    which = started(
        rt,
        flow_doc([WAIT], trigger={"type": "field_changed", "settings": {"fields": ["language", "segment"]}}),
    )
    to_value = started(
        rt,
        flow_doc(
            [WAIT],
            name="To B",
            trigger={"type": "field_changed", "settings": {"fields": ["segment"], "value": "B"}},
        ),
    )
    legacy = started(
        rt, flow_doc([WAIT], name="Legacy", trigger={"type": "field_changed", "settings": {"field": "score"}})
    )
    crm.update_person(ada, {"language": "nb"})  # a colleague in the CRM
    crm.update_person(bjorn, {"segment": "B"})
    crm.update_person(cecilie, {"note": "unrelated"})
    crm.update_person(dag, {"segment": "A", "score": 3})
    sf_run_jobs()
    assert enrolled(rt, which, [ada, bjorn, cecilie, dag]) == {ada, bjorn, dag}
    assert enrolled(rt, to_value, [ada, bjorn, cecilie, dag]) == {bjorn}
    assert enrolled(rt, legacy, [ada, bjorn, cecilie, dag]) == {dag}


# -- filters --------------------------------------------------------------------------
def test_field_conditions_by_operator(sf_runtime, crm, fields):
    rt = sf_runtime
    company = crm.create_company(name="Fjord AS", category="Customer")
    ada = crm.create_person(
        first_name="Ada",
        email="ada@example.com",
        mobile="+4790000001",
        language="en-GB",
        birth_date="1980-04-02",
        score=10,
        segment="A",
        vip=True,
        renewal=today(rt, -60).isoformat(),
        company_id=company["id"],
    )["id"]
    bjorn = crm.create_person(
        first_name="Bjorn",
        email="bjorn@example.com",
        email_blocked=True,
        language="nb",
        birth_date="1995-06-01",
        score=50,
        segment="B",
        vip=False,
        renewal=today(rt, -5).isoformat(),
    )["id"]
    cecilie = crm.create_person(first_name="Cecilie", mobile="+4790000003", segment="C")["id"]
    people = {"Ada": ada, "Bjorn": bjorn, "Cecilie": cecilie}
    cases = [
        ("field", {"field": "language", "operator": "equals", "value": "NB"}, {"Bjorn"}),
        ("field", {"field": "language", "operator": "not_equals", "value": "nb"}, {"Ada", "Cecilie"}),
        ("field", {"field": "email", "operator": "contains", "value": "example"}, {"Ada", "Bjorn"}),
        ("field", {"field": "first_name", "operator": "starts_with", "value": "ce"}, {"Cecilie"}),
        ("field", {"field": "score", "operator": "greater_than", "value": 20}, {"Bjorn"}),
        ("field", {"field": "score", "operator": "less_than", "value": "20"}, {"Ada"}),
        ("field", {"field": "birth_date", "operator": "before", "value": "1990-01-01"}, {"Ada"}),
        ("field", {"field": "renewal", "operator": "after", "value": "-30 days"}, {"Bjorn"}),
        ("field", {"field": "renewal", "operator": "before", "value": "-30 days"}, {"Ada"}),
        ("field", {"field": "segment", "operator": "in_list", "value": ["A", "C"]}, {"Ada", "Cecilie"}),
        ("field", {"field": "mobile", "operator": "is_empty"}, {"Bjorn"}),
        ("field", {"field": "email", "operator": "is_not_empty"}, {"Ada", "Bjorn"}),
        ("field", {"field": "vip", "operator": "is_true"}, {"Ada"}),
        ("field", {"field": "vip", "operator": "is_false"}, {"Bjorn", "Cecilie"}),
        ("field", {"field": "company.category", "operator": "equals", "value": "customer"}, {"Ada"}),
        ("has_email", {}, {"Ada"}),
        ("has_email", {"usable": False}, {"Ada", "Bjorn"}),
        ("has_mobile", {}, {"Ada", "Cecilie"}),
        ("language", {"languages": ["en"]}, {"Ada"}),
        ("language", {"languages": ["nb", "sv"]}, {"Bjorn"}),
    ]
    admitted = admitted_by_each(rt, people, [(kind, settings) for kind, settings, _ in cases], [WAIT])
    for (kind, settings, expected), names in zip(cases, admitted, strict=True):
        assert names == expected, (kind, settings)


def test_a_condition_also_chooses_a_split_branch(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    ada = crm.create_person(first_name="Ada", mobile="+4790000001")["id"]
    bjorn = crm.create_person(first_name="Bjorn")["id"]
    split = {
        "id": "split",
        "type": "split",
        "branches": [
            {
                "name": "Reachable by SMS",
                "condition": {"type": "has_mobile", "settings": {}},
                "steps": [update_step({"field": "note", "action": "set", "value": "sms"}, step_id="sms")],
            }
        ],
        "everyone_else": [update_step({"field": "note", "action": "set", "value": "other"}, step_id="other")],
    }
    started(rt, flow_doc([split]))
    signed_up(rt, ada, bjorn)
    sf_run_jobs()
    assert crm.get_person(ada)["fields"]["note"] == "sms"
    assert crm.get_person(bjorn)["fields"]["note"] == "other"


def test_condition_readiness_names_what_is_wrong(sf_runtime):
    filters = {
        "op": "and",
        "conditions": [
            {"type": "field", "settings": {"field": "score", "operator": "greater_than", "value": "lots"}},
            {"type": "field", "settings": {"field": "renewal", "operator": "after", "value": "last spring"}},
            {"type": "field", "settings": {"field": "language", "operator": "equals"}},
            {"type": "field", "settings": {"field": "email", "operator": "is_true"}},
        ],
    }
    assert refused_start(sf_runtime, flow_doc([WAIT], filters=filters)) == [
        "Filter 'Field value': Value: 'greater_than' needs a number, not 'lots'",
        "Filter 'Field value': Value: 'last spring' is not a date ('2024-05-01') or a time relative"
        " to now ('-30 days')",
        "Filter 'Field value': Value is required when the operator is 'equals'",
        "Filter 'Field value': Operator: 'email' is a text field; it is never true or false",
    ]


def test_filter_settings_of_the_wrong_type_are_named(sf_runtime):
    filters = {
        "op": "and",
        "conditions": [
            {"type": "field", "settings": {"field": "score", "operator": "bigger"}},
            {"type": "language", "settings": {"languages": "en"}},
            {"type": "has_email", "settings": {"usable": "perhaps"}},
        ],
    }
    errors = {e["field"]: e["message"] for e in refused_save(sf_runtime, flow_doc([WAIT], filters=filters))}
    assert errors["filters.conditions[0].settings.operator"].startswith("Must be one of: equals")
    assert errors["filters.conditions[1].settings.languages"] == "Not a valid list."
    assert errors["filters.conditions[2].settings.usable"] == "Not a valid boolean."


# -- success criteria -------------------------------------------------------------------
def test_field_value_succeeds_whoever_changed_it(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    ada = crm.create_person(first_name="Ada", score=10)["id"]
    already = crm.create_person(first_name="Already", score=150)["id"]
    success = {
        "criteria": [
            {"type": "field_value", "settings": {"field": "score", "operator": "greater_than", "value": 99}}
        ]
    }
    flow = started(rt, flow_doc([WAIT], success=success))
    signed_up(rt, ada, already)
    sf_run_jobs()
    p = participant_of(rt, flow, already)
    assert p.status == "succeeded" and p.reason == "success criteria met"
    assert participant_of(rt, flow, ada).status == "active"
    crm.update_person(ada, {"score": 100})  # a colleague in the CRM
    sf_run_jobs()
    p = participant_of(rt, flow, ada)
    assert p.status == "succeeded" and p.reason == "success: person.updated"


def test_contact_updated_criterion_on_a_change_of_the_field(sf_runtime, sf_run_jobs, crm, fields):
    rt = sf_runtime
    ada, bjorn = (crm.create_person(first_name=n, segment="A")["id"] for n in ("Ada", "Bjorn"))
    success = {"criteria": [{"type": "field_changed", "settings": {"fields": ["segment"], "value": "C"}}]}
    flow = started(rt, flow_doc([WAIT], success=success))
    signed_up(rt, ada, bjorn)
    sf_run_jobs()
    crm.update_person(ada, {"segment": "C"})
    crm.update_person(bjorn, {"segment": "B"})
    sf_run_jobs()
    assert participant_of(rt, flow, ada).status == "succeeded"
    assert participant_of(rt, flow, bjorn).status == "active"
