"""The follow-ups plugin: the "create follow-up" step (due after a while, or at the
first free time in the owner's calendar) and the "follow-up created" criterion."""

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

OSLO = ZoneInfo("Europe/Oslo")
WAIT = {"id": "w", "type": "wait", "settings": {"amount": 3, "unit": "days"}}
FRIDAY = 4


@pytest.fixture
def office(crm):
    kari = crm.create_associate("Kari Nordmann", email="kari@superflow.test")["id"]
    ola = crm.create_associate("Ola Hansen", email="ola@superflow.test")["id"]
    fjord = crm.create_company("Fjord Analytics AS", our_contact=kari, our_service_contact=ola)
    ada = crm.create_person(first_name="Ada", last_name="Lovelace", company_id=fjord["id"])["id"]
    bjorn = crm.create_person(first_name="Bjørn", last_name="Berg", company_id=fjord["id"])["id"]
    return SimpleNamespace(kari=kari, ola=ola, ada=ada, bjorn=bjorn)


def follow_up_step(**settings):
    return {
        "id": "fu",
        "type": "create_follow_up",
        "settings": {"title": "Call {{ person.first_name }}", **settings},
    }


def move_clock_to(rt, weekday: int, hour: int) -> dt.datetime:
    """Move the engine's clock forward to the next ``weekday`` at ``hour``:00 in Oslo."""
    now = dt.datetime.fromtimestamp(rt.clock.now(), OSLO)
    day = now.date() + dt.timedelta(days=(weekday - now.weekday()) % 7 or 7)
    target = dt.datetime.combine(day, dt.time(hour), tzinfo=OSLO)
    rt.clock.advance(target.timestamp() - rt.clock.now())
    return target


def at(day: dt.datetime, clock: str) -> dt.datetime:
    hours, minutes = map(int, clock.split(":"))
    return dt.datetime.combine(day.date(), dt.time(hours, minutes), tzinfo=OSLO)


def calendar(crm, associate, start: dt.datetime, days: int = 7):
    """The associate's follow-ups as (title, start, end, person) in Oslo time."""
    found = crm.list_follow_ups(associate, start.isoformat(), (start + dt.timedelta(days=days)).isoformat())
    return [
        (
            f["title"],
            dt.datetime.fromisoformat(f["starts_at"]).astimezone(OSLO),
            dt.datetime.fromisoformat(f["ends_at"]).astimezone(OSLO),
            f["person_id"],
        )
        for f in found
    ]


def test_a_follow_up_due_after_a_while(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    settings = {
        "type": "phone_call",
        "description": "Ask {{ person.full_name }} of {{ company.name }} about the webinar",
        "due_amount": 2,
        "due_unit": "hours",
        "duration_minutes": 15,
        "owner": {"rule": "our_service_contact"},
    }
    flow = started(rt, flow_doc([follow_up_step(**settings)], timezone="Europe/Oslo"))
    signed_up(rt, office.ada)
    sf_run_jobs()

    now = dt.datetime.fromtimestamp(rt.clock.now(), OSLO)
    (follow_up,) = crm.list_follow_ups(office.ola, now.isoformat(), (now + dt.timedelta(days=1)).isoformat())
    starts = dt.datetime.fromisoformat(follow_up["starts_at"])
    assert dt.timedelta(hours=2) - dt.timedelta(minutes=1) < starts - now <= dt.timedelta(hours=2)
    assert dt.datetime.fromisoformat(follow_up["ends_at"]) - starts == dt.timedelta(minutes=15)
    assert starts.utcoffset() == now.utcoffset()  # written in the flow's time zone
    assert (follow_up["title"], follow_up["type"], follow_up["person_id"]) == (
        "Call Ada",
        "phone_call",
        office.ada,
    )
    assert follow_up["description"] == "Ask Ada Lovelace of Fjord Analytics AS about the webinar"
    p = participant_of(rt, flow, office.ada)
    assert p.status == "completed"
    note = [h["note"] for h in rt.store.history(p.id) if h["step"] == "fu"][0]
    assert note == (
        f"phone call {follow_up['id']} 'Call Ada' at {starts:%Y-%m-%d %H:%M} (Europe/Oslo),"
        " for Ola Hansen (our service contact)"
    )
    assert rt.store.stats(flow.id)["step:fu:follow_ups.created"] == 1


def test_first_free_time_in_the_owners_calendar(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    friday = move_clock_to(rt, FRIDAY, 7)
    colleague = crm.create_person(first_name="Grace")["id"]
    for start, end in (("08:00", "09:10"), ("09:30", "15:45")):
        crm.create_follow_up(
            colleague,
            "Busy",
            "meeting",
            owner=office.kari,
            starts_at=at(friday, start).isoformat(),
            ends_at=at(friday, end).isoformat(),
        )
    cecilie = crm.create_person(first_name="Cecilie")["id"]
    settings = {"type": "meeting", "due": "first_free_slot", "duration_minutes": 30}
    flow = started(
        rt,
        flow_doc(
            [
                follow_up_step(
                    **settings,
                    owner={"rule": "our_contact", "fallback": "associate", "associate": office.ola},
                )
            ],
            timezone="Europe/Oslo",
        ),
    )
    signed_up(rt, office.ada, office.bjorn, cecilie)
    sf_run_jobs()

    monday = friday + dt.timedelta(days=3)
    # Friday's gaps (09:10-09:30, 15:45-16:00) are too short and the weekend is not
    # working time: Ada and Bjørn get Kari's first free half hours on Monday, one each.
    assert calendar(crm, office.kari, friday) == [
        ("Busy", at(friday, "08:00"), at(friday, "09:10"), colleague),
        ("Busy", at(friday, "09:30"), at(friday, "15:45"), colleague),
        ("Call Ada", at(monday, "08:00"), at(monday, "08:30"), office.ada),
        ("Call Bjørn", at(monday, "08:30"), at(monday, "09:00"), office.bjorn),
    ]
    # Cecilie has no company: her call falls back to Ola, whose Friday is free.
    assert calendar(crm, office.ola, friday) == [
        ("Call Cecilie", at(friday, "08:00"), at(friday, "08:30"), cecilie)
    ]
    assert rt.store.stats(flow.id)["completed"] == 3


def test_no_free_time_within_the_look_ahead_exits_with_the_reason(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    friday = move_clock_to(rt, FRIDAY, 7)
    crm.create_follow_up(
        office.ada,
        "All day",
        "meeting",
        owner=office.kari,
        starts_at=at(friday, "08:00").isoformat(),
        ends_at=at(friday, "16:00").isoformat(),
    )
    settings = {"due": "first_free_slot", "search_days": 2, "working_hours": {"days": [0, 1, 2, 3, 4]}}
    flow = started(rt, flow_doc([follow_up_step(**settings)], timezone="Europe/Oslo"))
    signed_up(rt, office.ada)
    sf_run_jobs()
    p = participant_of(rt, flow, office.ada)
    assert p.status == "exited"
    assert p.reason == (
        "follow-up not created: no free 30 minutes in Kari Nordmann's calendar within working hours"
        " in the next 2 days"
    )


def test_running_the_step_again_after_a_crash_creates_one_follow_up(
    sf_runtime, sf_run_jobs, crm, office, monkeypatch
):
    rt = sf_runtime
    friday = move_clock_to(rt, FRIDAY, 7)
    flow = started(rt, flow_doc([follow_up_step(due="first_free_slot"), WAIT], timezone="Europe/Oslo"))
    rt.engine.handle_events([Event("api.event", office.ada, {"name": "signed_up"})])
    pid = participant_of(rt, flow, office.ada).id

    crash_after_effects(rt, [pid])
    first = calendar(crm, office.kari, friday)
    assert first == [("Call Ada", at(friday, "08:00"), at(friday, "08:30"), office.ada)]

    # Run again: the slot search now sees the first run's follow-up, but the
    # idempotency key gives back that follow-up instead of making a second one.
    rt.engine.advance([pid])
    sf_run_jobs()
    assert calendar(crm, office.kari, friday) == first
    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)["step:fu:follow_ups.created"] == 1


def test_follow_up_created_criterion_counts_a_colleagues_follow_up(sf_runtime, sf_run_jobs, crm, office):
    rt = sf_runtime
    success = {"criteria": [{"type": "follow_up_created", "settings": {"type": "phone_call"}}]}
    flow = started(rt, flow_doc([WAIT], success=success))
    signed_up(rt, office.ada, office.bjorn)
    sf_run_jobs()

    crm.create_follow_up(office.ada, "Called Ada", "phone_call", owner=office.kari)
    crm.create_follow_up(office.bjorn, "Sort papers", "task", owner=office.kari)
    sf_run_jobs()

    ada = participant_of(rt, flow, office.ada)
    assert ada.status == "succeeded" and ada.reason == "success: follow_up.created"
    assert participant_of(rt, flow, office.bjorn).status == "active"


def test_settings_are_checked_with_the_field_named(sf_runtime):
    rt = sf_runtime
    invalid = refused_save(
        rt,
        flow_doc(
            [follow_up_step(due_unit="weeks", type="lunch", working_hours={"start": "8am", "days": [7]})]
        ),
    )
    assert {(e["field"], e["message"]) for e in invalid} == {
        ("steps[0].settings.due_unit", "Must be one of: minutes, hours, days."),
        ("steps[0].settings.type", "Must be one of: appointment, meeting, phone_call, task."),
        ("steps[0].settings.working_hours.start", "a time such as 08:00"),
        (
            "steps[0].settings.working_hours.days[0]",
            "Must be greater than or equal to 0 and less than or equal to 6.",
        ),
    }

    assert refused_start(
        rt,
        flow_doc(
            [
                {"id": "a", "type": "create_follow_up", "settings": {}},
                follow_up_step(working_hours={"start": "16:00", "end": "08:00"}),
                {**follow_up_step(due="first_free_slot", duration_minutes=600), "id": "c"},
            ]
        ),
    ) == [
        "Step 1 'Create follow-up': Title is required",
        "Step 2 'Create follow-up': Working hours, To: 08:00 is not after 16:00",
        "Step 3 'Create follow-up': Duration (minutes): longer than the working day",
    ]


def test_components_describe_themselves(sf_runtime):
    registry = sf_runtime.registry
    step = registry.step_type("create_follow_up")
    assert step.describe({"title": "Call", "type": "phone_call", "due_amount": 2, "due_unit": "hours"}) == (
        "Phone call 'Call' for our contact, due in 2 hours"
    )
    assert step.describe({"title": "Meet", "type": "meeting", "due": "first_free_slot"}) == (
        "Meeting 'Meet' for our contact, at the first free time in their calendar"
    )
    criterion = registry.criterion("follow_up_created")
    assert criterion.describe({"type": "phone_call"}) == "When a phone call is created for the person"
    for component in (step, criterion):
        for name, field in component.settings_schema().fields.items():
            assert field.metadata.get("label") and field.metadata.get("help"), f"{component.name}.{name}"
