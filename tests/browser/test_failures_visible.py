"""The marketer's story: a flow's email cannot be sent (its attachment was removed
from the attachments folder).  The flow chart, the Summary, Reports and the
participants grid say which step is in trouble and why — not just "waiting"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import failures
from superflow.runtime import set_current
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started

Screenshot = Callable[[Page, str], Path]
MISSING = "there is no file 'price-list.pdf'"


@pytest.fixture(scope="module")
def failing_flow(admin_site: AdminSite) -> str:
    """A running flow whose email has lost its attachment, and three persons in it."""
    rt = admin_site.runtime
    folder = Path(rt.config.data_dir) / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "price-list.pdf").write_bytes(b"%PDF-1.4 price list")
    step = dict(
        email_step("offer", attachments=[{"name": "price-list.pdf", "path": "price-list.pdf"}]),
        name="Spring offer",
    )
    set_current(rt)  # readiness checks the attachments folder of the running runtime
    try:
        flow = started(rt, flow_doc([step], name="Spring campaign"))
    finally:
        set_current(None)
    (folder / "price-list.pdf").unlink()
    crm = rt.crm
    ids = []
    for first in ("Nora", "Ola", "Pia"):
        person = crm.create_person(
            first_name=first, last_name="Failing", email=f"{first.lower()}@vestby.test"
        )
        crm.set_consent(person["id"], "emarketing", True)
        ids.append(str(person["id"]))
    signed_up(rt, *ids)
    wait_for(
        lambda: rt.store.stats(flow.id).get(failures.retrying_counter("offer"), 0) == 3,
        "three participants retrying the email",
    )
    return flow.id


def test_the_chart_shows_the_step_in_trouble_and_why(
    signed_in: Callable[[str], Page], failing_flow: str, screenshot: Screenshot
) -> None:
    page = signed_in("viewer")
    page.goto(f"/flows/{failing_flow}/chart")
    trouble = page.locator("#step-offer [data-trouble=offer]")
    expect(trouble).to_contain_text("3 retrying")
    expect(trouble).to_contain_text("Email not sent: attachment price-list.pdf")
    assert MISSING in (trouble.get_attribute("title") or "")
    screenshot(page, "failures-chart")


def test_the_summary_lists_what_needs_attention(
    signed_in: Callable[[str], Page], failing_flow: str, screenshot: Screenshot
) -> None:
    page = signed_in("admin")
    page.goto(f"/flows/{failing_flow}")
    block = page.locator("#needs-attention")
    expect(block).to_contain_text("Needs attention")
    expect(block).to_contain_text("Step 1 'Spring offer': 3 retrying")
    expect(block.locator("li")).to_contain_text(MISSING)
    expect(block.locator("li")).to_contain_text("(3×")
    screenshot(page, "failures-summary")

    page.get_by_role("link", name="see who").click()
    rows = page.locator("#participants tbody tr")
    expect(rows).to_have_count(3)
    first = rows.first
    expect(first).to_contain_text("retrying: Email not sent: attachment price-list.pdf")
    expect(first).to_contain_text("(attempt 2, next try ")
    expect(page.locator("#participants")).not_to_contain_text("waiting until")
    screenshot(page, "failures-participants")

    first.locator("td.name a").click()
    expect(page.locator("dl.facts")).to_contain_text("Retrying")
    expect(page.locator("dl.facts")).to_contain_text("Email not sent: attachment price-list.pdf")
    screenshot(page, "failures-participant")


def test_reports_show_the_failing_step(
    signed_in: Callable[[str], Page], failing_flow: str, screenshot: Screenshot
) -> None:
    page = signed_in("viewer")
    page.goto(f"/flows/{failing_flow}/reports")
    row = page.locator("#needs-attention tr[data-trouble=offer]")
    expect(row).to_contain_text("Spring offer")
    expect(row.locator("td.num").first).to_have_text("3")
    expect(row).to_contain_text(MISSING)
    screenshot(page, "failures-reports")
