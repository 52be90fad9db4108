"""The People screen in a real browser: a marketer finds Ada by name, opens her,
gives her a birthday today, sees it saved, and sees the flows she is in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

Screenshot = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def ada(admin_site: AdminSite) -> dict:
    """Ada Lovelace, at a company, in a running flow (the worker enrolled her)."""
    rt = admin_site.runtime
    company = rt.crm.create_company(name="Analytical Engines AS", category="Customer")
    person = rt.crm.create_person(
        first_name="Ada", last_name="Lovelace", email="ada@engines.test", company_id=company["id"]
    )
    rt.crm.set_consent(person["id"], "emarketing", True)
    wait = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}
    flow = started(rt, flow_doc([dict(email_step("hello"), name="Welcome"), wait], name="Ada's welcome"))
    signed_up(rt, person["id"])
    wait_for(lambda: participant_of(rt, flow, person["id"]), "Ada's enrolment")
    return {"id": str(person["id"]), "flow": flow}


def test_a_marketer_gives_ada_a_birthday_today(signed_in, admin_site, ada, screenshot: Screenshot):
    page = signed_in("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    page.get_by_role("searchbox").fill("lovelace")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#people tbody tr")).to_have_count(1)
    screenshot(page, "people-search")

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#company")).to_contain_text("Analytical Engines AS")
    expect(page.locator("#consents")).to_contain_text("Email marketingGiven")
    flows = page.locator("#flows")
    expect(flows).to_contain_text("Ada's welcome")
    expect(flows).to_contain_text("Active")

    today = dt.date.today().isoformat()
    page.get_by_label("Birth date").fill(today)
    screenshot(page, "person-before-save")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Saved: Birth date.")
    expect(page.get_by_label("Birth date")).to_have_value(today)
    assert admin_site.runtime.crm.get_person(ada["id"])["birth_date"] == today
    screenshot(page, "person-saved")

    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert")).to_contain_text("Time zone: 'Mars/Olympus' is not a time zone")
    expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    assert admin_site.runtime.crm.get_person(ada["id"])["timezone"] is None
    screenshot(page, "person-bad-input")

    page.locator("#flows").get_by_role("link", name="Ada's welcome").click()
    expect(page.locator("#history")).to_contain_text("Enrolled")


def test_a_viewer_sees_ada_but_cannot_change_her(signed_in, admin_site, ada, screenshot: Screenshot):
    page = signed_in("viewer")
    page.goto(f"{admin_site.url}/people/{ada['id']}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(page.locator("#fields")).to_contain_text("Only a flow administrator can change")
    screenshot(page, "person-viewer")
