"""The "date reached" trigger, with the engine's controllable clock: the right day
(offset), the right time of day (in the flow's or the person's time zone), never
twice for one date, and only the dates of the window asked of the CRM."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from superflow import flows
from superflow import keys
from superflow.testing import SignedInSession
from superflow.testing import csrf_token
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import started

SHORT_WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "minutes"}}


def advance_to(rt, day, hour, minute, tz="UTC"):
    target = dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(tz)).timestamp()
    assert target > rt.clock.now()
    rt.clock.advance(target - rt.clock.now())


def date_trigger(**settings):
    return {"type": "date_reached", "settings": settings}


@pytest.fixture
def asked(sf_runtime, monkeypatch):
    """Every ``persons_on_dates`` call the trigger makes: (dates, yearly)."""
    calls = []
    crm = sf_runtime.crm
    real = crm.persons_on_dates

    def spy(field, dates, yearly):
        dates = list(dates)
        calls.append((field, dates, yearly))
        return real(field, dates, yearly)

    monkeypatch.setattr(crm, "persons_on_dates", spy)
    return calls


def test_a_birthday_enrols_on_the_day_of_the_offset_at_the_time_of_day(sf_runtime, sf_run_jobs, crm, asked):
    rt = sf_runtime
    oslo = ZoneInfo("Europe/Oslo")
    today = dt.datetime.fromtimestamp(rt.clock.now(), oslo).date()
    birthday = today + dt.timedelta(days=5)
    ada = crm.create_person(first_name="Ada", birth_date=birthday.replace(year=1988).isoformat())["id"]
    later = birthday + dt.timedelta(days=1)
    bjorn = crm.create_person(first_name="Bjorn", birth_date=later.replace(year=1988).isoformat())["id"]
    trigger = date_trigger(offset_days=-3, time="09:00", time_zone="Europe/Oslo", person_time_zone=False)
    flow = started(
        rt, flow_doc([SHORT_WAIT], trigger=trigger, timezone="Europe/Oslo", reenrollment="after_end")
    )
    started_at = float(rt.redis.hget(keys.flow(flow.id), "scanned_to"))
    fires = birthday - dt.timedelta(days=3)

    advance_to(rt, fires, 8, 58, "Europe/Oslo")
    sf_run_jobs()
    assert participant_of(rt, flow, ada) is None

    advance_to(rt, fires, 9, 1, "Europe/Oslo")
    sf_run_jobs()
    p = participant_of(rt, flow, ada)
    assert p is not None and p.source == "date_reached"
    assert p.event["occasion"] == f"birth_date:{birthday.isoformat()}"
    assert p.event["date"] == birthday.isoformat()
    assert participant_of(rt, flow, bjorn) is None

    # Only the dates whose moment (3 days before, 09:00 Oslo) fell in a window were
    # asked for, each once, and the birthday among them.
    scanned_to = rt.clock.now()
    dates = [dt.date.fromisoformat(d) for _, ds, _ in asked for d in ds]
    assert len(dates) == len(set(dates))
    assert birthday in dates
    for day in dates:
        moment = dt.datetime.combine(day - dt.timedelta(days=3), dt.time(9), oslo).timestamp()
        assert started_at < moment <= scanned_to, day
    assert all(field == "birth_date" and yearly for field, _, yearly in asked)

    # The participation ends; the same window scanned again enrols nobody again.
    rt.clock.advance(120)
    sf_run_jobs()
    first = participant_of(rt, flow, ada)
    assert first.status == "completed"
    assert rt.engine.scan(flow.id, started_at, rt.clock.now()) == []
    sf_run_jobs()
    assert rt.store.stats(flow.id)["enrolled"] == 1

    # A year on, the next birthday is a new occasion.
    next_birthday = birthday.replace(year=birthday.year + 1)
    advance_to(rt, next_birthday - dt.timedelta(days=3), 9, 1, "Europe/Oslo")
    sf_run_jobs()
    p = participant_of(rt, flow, ada)
    assert p.event["occasion"] == f"birth_date:{next_birthday.isoformat()}"
    assert p.id != first.id and p.status == "active"


def test_each_person_at_the_time_of_day_in_their_own_time_zone(sf_runtime, sf_run_jobs, crm, asked):
    rt = sf_runtime
    crm.define_field("renewal", "Renewal", "date")
    today = dt.datetime.fromtimestamp(rt.clock.now(), dt.UTC).date()
    due = today + dt.timedelta(days=2)
    here = crm.create_person(first_name="Here", renewal=due.isoformat())["id"]
    york = crm.create_person(first_name="York", timezone="America/New_York", renewal=due.isoformat())["id"]
    last_year = crm.create_person(first_name="Old", renewal=due.replace(year=due.year - 1).isoformat())["id"]
    flow = started(rt, flow_doc([SHORT_WAIT], trigger=date_trigger(field="renewal", yearly=False)))

    advance_to(rt, due, 9, 1)
    sf_run_jobs()
    assert participant_of(rt, flow, here) is not None
    assert participant_of(rt, flow, york) is None, "09:00 in New York is later"

    advance_to(rt, due, 9, 1, "America/New_York")
    sf_run_jobs()
    p = participant_of(rt, flow, york)
    assert p is not None and p.event["occasion"] == f"renewal:{due.isoformat()}"
    assert participant_of(rt, flow, last_year) is None, "an exact date comes once"
    assert rt.store.stats(flow.id)["enrolled"] == 2
    assert all(field == "renewal" and not yearly for field, _, yearly in asked)


def test_a_leap_day_birthday_is_kept_on_the_28th_in_other_years(sf_runtime, crm, asked):
    leap = crm.create_person(first_name="Leap", birth_date="1988-02-29")["id"]
    trigger = sf_runtime.registry.trigger("date_reached")
    settings = trigger.settings_schema().load({"person_time_zone": False})
    morning = dt.datetime(2027, 2, 28, 9, tzinfo=dt.UTC).timestamp()
    (event,) = trigger.scan(settings, sf_runtime, morning - 60, morning + 60)
    assert event.person_id == leap and event.data["occasion"] == "birth_date:2027-02-28"
    # A window with no 09:00 in it asks the CRM nothing.
    calls = len(asked)
    assert trigger.scan(settings, sf_runtime, morning + 60, morning + 3600) == []
    assert len(asked) == calls


def test_the_time_zone_must_be_chosen_when_the_flow_has_one(sf_runtime):
    assert refused_start(
        sf_runtime, flow_doc([SHORT_WAIT], trigger=date_trigger(), timezone="Europe/Oslo")
    ) == [
        "Trigger 'Date reached': Time zone is required: the flow's time zone is 'Europe/Oslo', and the"
        " time of day would otherwise be in UTC"
    ]
    assert sf_runtime.registry.trigger("date_reached").describe(
        {"offset_days": -3, "time_zone": "Europe/Oslo", "person_time_zone": False}
    ) == ("3 days before birth_date, every year, at 09:00 (Europe/Oslo)")


def test_bad_settings_are_named(sf_runtime):
    trigger = date_trigger(time="9 o'clock", offset_days="three", time_zone="Mars/Olympus", yearly="often")
    errors = {
        e["field"]: e["message"] for e in refused_save(sf_runtime, flow_doc([SHORT_WAIT], trigger=trigger))
    }
    assert errors == {
        "trigger.settings.time": "use HH:MM, e.g. 09:00",
        "trigger.settings.offset_days": "Not a valid integer.",
        "trigger.settings.time_zone": "unknown time zone 'Mars/Olympus'",
        "trigger.settings.yearly": "Not a valid boolean.",
    }


NINE_UTC = date_trigger(time="09:00", time_zone="UTC", person_time_zone=False)


def born_today_at_ten(rt, crm) -> str:
    """The clock at 10:00 UTC of a day (today or tomorrow), and Ada, whose birthday it is:
    a 09:00 birthday flow started now has already missed her."""
    now = dt.datetime.fromtimestamp(rt.clock.now(), ZoneInfo("UTC"))
    day = now.date() if now.hour < 10 else now.date() + dt.timedelta(days=1)
    advance_to(rt, day, 10, 0)
    return crm.create_person(first_name="Ada", birth_date=day.replace(year=1990).isoformat())["id"]


def test_a_flow_started_after_its_time_of_day_says_who_it_missed_and_can_enrol_them(
    sf_runtime, sf_run_jobs, crm
):
    rt = sf_runtime
    ada = born_today_at_ten(rt, crm)

    late = flows.create(rt, flow_doc([SHORT_WAIT], trigger=NINE_UTC, name="Birthday, from now"))
    assert flows.missed_today(rt, late) == 1, "Ada's birthday came at 09:00, before the start"
    flows.start(rt, late.id)
    caught_up = flows.create(rt, flow_doc([SHORT_WAIT], trigger=NINE_UTC, name="Birthday, today too"))
    flows.start(rt, caught_up.id, earlier_today=True)
    rt.clock.advance(rt.config.scan_seconds + 1)
    sf_run_jobs()

    assert participant_of(rt, flows.get(rt, late.id), ada) is None
    assert participant_of(rt, flows.get(rt, caught_up.id), ada) is not None
    assert flows.missed_today(rt, flows.get(rt, caught_up.id)) == 1  # the count is of the day, not the flow
    other = flows.create(rt, flow_doc([SHORT_WAIT], name="Not a date trigger"))
    assert flows.missed_today(rt, other) == 0


def test_the_start_screen_offers_to_enrol_todays_matches(sf_runtime, sf_live_server, sf_run_jobs, crm):
    rt = sf_runtime
    ada = born_today_at_ten(rt, crm)

    flow = flows.create(rt, flow_doc([SHORT_WAIT], trigger=NINE_UTC, name="Birthday"))
    admin = SignedInSession(rt, sf_live_server, "flow_admin")

    page = admin.get(f"{sf_live_server}/flows/{flow.id}/start", timeout=10).text
    assert "1 person was due earlier today" in page
    assert 'name="earlier_today"' in page
    token = csrf_token(page)
    started_page = admin.post(
        f"{sf_live_server}/flows/{flow.id}/start",
        data={"csrf_token": token, "earlier_today": "1"},
        timeout=10,
    )
    assert started_page.status_code == 200 and flows.get(rt, flow.id).status == "running"
    rt.clock.advance(rt.config.scan_seconds + 1)
    sf_run_jobs()
    assert participant_of(rt, flows.get(rt, flow.id), ada) is not None


def test_the_api_starts_a_date_flow_with_todays_matches(sf_runtime, sf_run_jobs, crm, api):
    rt = sf_runtime
    ada = born_today_at_ten(rt, crm)
    doc = flow_doc([SHORT_WAIT], trigger=NINE_UTC)
    flow = api.ok("POST", "/flows", 201, json=doc)
    assert api("POST", f"/flows/{flow['id']}/start", params={"earlier_today": "perhaps"}).status_code == 422
    assert (
        api.ok("POST", f"/flows/{flow['id']}/start", params={"earlier_today": "true"})["status"] == "running"
    )
    rt.clock.advance(rt.config.scan_seconds + 1)
    sf_run_jobs()
    assert participant_of(rt, flows.get(rt, flow["id"]), ada) is not None
