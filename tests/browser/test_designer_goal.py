"""A webinar flow whose last step is the invitation with the link to click: the
designer warns that the click comes after people have left, and counting success
for a few days after the last step takes the warning away."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from superflow import flows
from superflow.testing import email_step
from superflow.testing import flow_doc

Screenshot = Callable[[Page, str], Path]


def test_a_goal_that_comes_after_the_last_step_is_warned_about_and_fixed_with_days(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    invite = email_step(
        "invite",
        subject="Join our webinar",
        html='<p><a href="https://example.com/w">Sign up</a></p>'
        '<p><a href="{unsubscribe_url}">Unsubscribe</a></p>',
    )
    success = {"criteria": [{"type": "link_clicked", "settings": {"step": "invite"}}]}
    flow = flows.create(rt, flow_doc([invite], name="Webinar invitation", success=success))

    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}/design")
    page.locator("[data-step-id=invite]").click()
    warning = page.locator(".dz-warnings")
    expect(warning).to_contain_text("people leave the flow right after")
    screenshot(page, "designer-goal-warning")

    page.locator("[data-node=goal]").click()
    page.get_by_label(re.compile("Success still counts for")).fill("3")
    page.locator("[data-save]").click()
    expect(page.locator("[data-flash=ok]")).to_contain_text(re.compile(r"Saved as version \d+"))
    assert flows.get(rt, flow.id).doc["success"]["days_after"] == 3
    page.locator("[data-step-id=invite]").click()
    expect(page.locator(".dz-warnings")).to_have_count(0)
    screenshot(page, "designer-goal-days")
