"""A birthday flow started after its time of day: the designer asks whether today's
birthdays are enrolled too, and does what the marketer answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import flows
from superflow.testing import flow_doc
from superflow.testing import participant_of

Screenshot = Callable[[Page, str], Path]
WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def test_starting_a_birthday_flow_after_nine_asks_about_todays_birthdays(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    now = dt.datetime.fromtimestamp(rt.clock.now(), ZoneInfo("UTC"))
    day = now.date() if now.hour < 10 else now.date() + dt.timedelta(days=1)
    rt.clock.advance(dt.datetime.combine(day, dt.time(10), ZoneInfo("UTC")).timestamp() - rt.clock.now())
    ada = rt.crm.create_person(
        first_name="Ada", last_name="Birthday", birth_date=day.replace(year=1990).isoformat()
    )
    trigger = {
        "type": "date_reached",
        "settings": {"time": "09:00", "time_zone": "UTC", "person_time_zone": False},
    }
    flow = flows.create(rt, flow_doc([WAIT], trigger=trigger, name="Happy birthday"))

    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}/design")
    page.locator("[data-start]").click()
    page.locator("dialog.dz-dialog [data-confirm]").click()
    question = page.locator("dialog.dz-dialog")
    expect(question).to_contain_text("due earlier today, before this start")
    screenshot(page, "designer-start-earlier-today")
    with page.expect_navigation():
        question.get_by_role("button", name="Enrol them too").click()
    expect(page.locator("h1 .badge")).to_have_text("Running")

    rt.clock.advance(rt.config.scan_seconds + 1)
    wait_for(lambda: participant_of(rt, flows.get(rt, flow.id), ada["id"]), "Ada enrolled on her birthday")
