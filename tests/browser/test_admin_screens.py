"""The admin screens in a real browser against the real web app and worker: the flows
list, a flow's tabs, run/pause/resume/end, participants, content, rights."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import flows
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

Screenshot = Callable[[Page, str], Path]
DAY = 86400
LIVE_MS = 15_000


def csrf_of(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value") or ""


@pytest.fixture(scope="module")
def people(admin_site: AdminSite) -> list[str]:
    """Four persons with an email address and e-marketing consent."""
    crm = admin_site.runtime.crm
    company = crm.create_company(name="Fjordlys Analyse AS", category="Customer")
    ids = []
    for first in ("Ingrid", "Jonas", "Kari", "Lars"):
        person = crm.create_person(
            first_name=first,
            last_name="Browser",
            email=f"{first.lower()}@fjordlys.test",
            company_id=company["id"],
        )
        crm.set_consent(person["id"], "emarketing", True)
        ids.append(str(person["id"]))
    return ids


def drip(name: str) -> dict[str, Any]:
    """Email → wait a day → email: a participant that waits where the page can see it."""
    return flow_doc(
        [
            dict(email_step("welcome"), name="Welcome"),
            {
                "id": "pause",
                "type": "wait",
                "name": "One day later",
                "settings": {"amount": 1, "unit": "days"},
            },
            dict(email_step("tips", subject="Tips for {{person.first_name}}"), name="Tips"),
        ],
        name=name,
        description="A welcome email, then tips a day later.",
    )


def test_search_and_switch_views_which_is_remembered(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    started(rt, drip("Spring newsletter"))
    flows.create(rt, drip("Autumn webinar"))
    page = signed_in("admin")
    expect(page.locator(".tile", has_text="Spring newsletter")).to_be_visible()
    screenshot(page, "flows-tiles")

    page.get_by_placeholder("Search flows by name").fill("autumn")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".tile", has_text="Autumn webinar")).to_be_visible()
    expect(page.locator(".tile", has_text="Spring newsletter")).to_have_count(0)

    page.get_by_role("link", name="List").click()
    expect(page.locator("table.grid tr", has_text="Autumn webinar")).to_be_visible()
    page.goto("/")
    (
        expect(page.locator("table.grid tr", has_text="Spring newsletter")).to_be_visible(),
        "list view remembered",
    )
    screenshot(page, "flows-list-view")

    page.get_by_role("link", name=re.compile("^Running")).click()
    expect(page.locator("table.grid tr", has_text="Spring newsletter")).to_be_visible()
    expect(page.locator("table.grid tr", has_text="Autumn webinar")).to_have_count(0)
    page.get_by_role("link", name=re.compile("^Recent")).click()
    expect(page.get_by_text("No recently opened flows")).to_be_visible()
    page.get_by_role("link", name="Tiles").click()


def test_copy_makes_a_draft_and_delete_asks_first(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    original = started(admin_site.runtime, drip("Loyalty drip"))
    page = signed_in("admin")
    page.goto(f"/flows/{original.id}")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("heading", name=re.compile("Copy of Loyalty drip"))).to_be_visible()
    expect(page.locator("[data-live=status]")).to_have_text("Draft")
    copy_path = page.url

    page.goto(f"/flows/{original.id}/delete")
    expect(page.locator("#refusal")).to_contain_text("end it before deleting it")

    page.goto(copy_path.replace(admin_site.url, "") + "/delete")
    expect(page.locator("#effects")).to_contain_text("cannot be undone")
    screenshot(page, "confirm-delete")
    page.get_by_role("button", name="Delete flow").click()
    expect(page.get_by_text("was deleted")).to_be_visible()
    expect(page.locator("[data-flow]", has_text="Copy of Loyalty drip")).to_have_count(0)
    expect(page.locator("[data-flow]", has_text="Loyalty drip")).to_have_count(1)


def test_a_participant_moves_from_step_to_step_while_the_page_is_open(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str], screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("Live drip"))
    page = signed_in("viewer")
    page.goto(f"/flows/{flow.id}/chart")
    expect(page.locator("[data-stat='at:pause']")).to_have_text("0")

    signed_up(rt, people[0])
    expect(page.locator("[data-stat='passed:welcome']")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator("[data-stat='at:pause']")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator("#step-pause")).to_have_class(re.compile(r"\bhere\b"))
    screenshot(page, "flow-chart-live")

    rt.clock.advance(DAY + 60)
    expect(page.locator("[data-stat='passed:pause']")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator("[data-stat='passed:tips']")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator("[data-stat='completed']")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator("[data-stat='at:pause']")).to_have_text("0")

    page.get_by_role("link", name="Reports").click()
    expect(page.locator("[data-line=daily] svg path").first).to_be_visible()
    expect(page.locator("[data-value-path='email.sent'] .num")).to_have_text("2")
    screenshot(page, "flow-reports")


def test_pause_resume_and_end_say_what_happens_to_participants(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str], screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("Pausable drip"))
    signed_up(rt, *people[1:3])
    wait_for(lambda: rt.store.stats(flow.id).get("at:pause") == 2, "two participants waiting")
    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}")
    screenshot(page, "flow-summary-running")

    page.get_by_role("link", name="Pause").first.click()
    expect(page.locator("#effects")).to_contain_text("2 active participants will wait where they are")
    screenshot(page, "confirm-pause")
    page.get_by_role("button", name="Pause flow").click()
    expect(page.locator("[data-live=status]")).to_have_text("Paused")
    assert flows.get(rt, flow.id).status == "paused"

    page.get_by_role("link", name="Resume").first.click()
    expect(page.locator("#effects")).to_contain_text("queued enrolment")
    page.get_by_role("button", name="Resume flow").click()
    expect(page.locator("[data-live=status]")).to_have_text("Running")

    page.get_by_role("link", name="End flow").click()
    expect(page.locator("#effects")).to_contain_text("2 active participants will be cancelled")
    screenshot(page, "confirm-end")
    page.get_by_role("button", name="End flow").click()
    expect(page.locator("[data-live=status]")).to_have_text("Ended")
    expect(page.get_by_text("2 participants cancelled")).to_be_visible()
    assert rt.store.stats(flow.id).get("cancelled") == 2


def test_participants_grid_detail_and_admin_actions(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str], screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("Grid drip"))
    signed_up(rt, *people)
    wait_for(lambda: rt.store.stats(flow.id).get("at:pause") == 4, "four participants waiting")
    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}/participants")
    expect(page.locator("#participants tbody tr")).to_have_count(4)
    expect(page.locator("#participants")).to_contain_text("Fjordlys Analyse AS")
    screenshot(page, "flow-participants")

    page.get_by_placeholder("Email address or person id").fill("kari@fjordlys.test")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#participants tbody tr")).to_have_count(1)
    page.get_by_role("link", name="kari@fjordlys.test").click()
    expect(page.locator("#history")).to_contain_text("Enrolled")
    screenshot(page, "participant-detail")

    page.get_by_label("Move to step").select_option("tips")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text("was moved")).to_be_visible()
    kari = participant_of(rt, flow, people[2])
    wait_for(lambda: rt.store.participant(kari.id).status == "completed", "the moved participant to finish")
    page.reload()
    expect(page.locator("#history")).to_contain_text("moved by admin")

    lars = participant_of(rt, flow, people[3])
    page.goto(f"/flows/{flow.id}/participants/{lars.id}")
    page.get_by_role("button", name="Remove from flow").click()
    expect(page.get_by_text("was removed")).to_be_visible()
    assert rt.store.participant(lars.id).status == "cancelled"

    page.goto(f"/flows/{flow.id}/participants?status=cancelled")
    expect(page.locator("#participants tbody tr")).to_have_count(1)
    page.goto(f"/flows/{flow.id}/participants?status=bogus")
    expect(page.locator("#cause")).to_contain_text("status")


def test_a_draft_that_cannot_start_lists_what_is_missing(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    doc = flow_doc([{"id": "mail", "type": "send_email", "settings": {}}], name="Half-built flow")
    flow = flows.create(admin_site.runtime, doc)
    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}")
    expect(page.locator("#missing")).to_contain_text("Subject is required")
    screenshot(page, "flow-summary-not-ready")
    page.goto(f"/flows/{flow.id}/start")
    expect(page.locator("#refusal")).to_contain_text("cannot start yet")


def test_manual_enrolment_and_flow_content(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str], screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("Content drip"))
    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}")
    page.get_by_label("One person").fill("ingrid@fjordlys.test")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("queued for enrolment")).to_be_visible()
    wait_for(lambda: participant_of(rt, flow, people[0]), "Ingrid's enrolment")

    page.goto(f"/flows/{flow.id}/content?person={people[1]}")
    tips = page.locator("article.message[data-step=tips]")
    expect(tips.locator(".subject")).to_have_text("Tips for Jonas")
    expect(page.frame_locator("article.message[data-step=welcome] iframe").locator("p")).to_contain_text(
        "Fjordlys Analyse AS"
    )
    screenshot(page, "flow-content")
    tips.get_by_label("Send a test to").fill("me@fjordlys.test")
    tips.get_by_role("button", name="Send test").click()
    expect(page.locator(".flash-ok")).to_be_visible()

    page.goto("/outbox")
    expect(page.get_by_text("[Test] Tips for Jonas")).to_be_visible()


def test_a_content_editor_is_refused_flow_actions(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str]
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("Guarded drip"))
    page = signed_in("editor")
    page.goto(f"/flows/{flow.id}")
    expect(page.get_by_role("link", name="Pause")).to_have_count(0)
    expect(page.get_by_role("link", name="End flow")).to_have_count(0)
    page.goto(f"/flows/{flow.id}/end")
    expect(page.locator("#cause")).to_contain_text("Flow administrator")
    token = csrf_of(page)
    reply = page.request.post(f"{admin_site.url}/flows/{flow.id}/end", form={"csrf_token": token})
    assert reply.status == 403
    assert flows.get(rt, flow.id).status == "running"
    page.goto("/users")
    expect(page.locator("#cause")).to_contain_text("Flow administrator")


def test_state_changes_without_the_csrf_token_are_refused(
    signed_in: Callable[[str], Page], admin_site: AdminSite
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("CSRF drip"))
    page = signed_in("admin")
    reply = page.request.post(f"{admin_site.url}/flows/{flow.id}/pause", form={})
    assert reply.status == 400 and "did not come from this site" in reply.text()
    forged = page.request.post(f"{admin_site.url}/flows/{flow.id}/pause", form={"csrf_token": "forged"})
    assert forged.status == 400
    assert flows.get(rt, flow.id).status == "running"


def test_unknown_flow_and_tampered_forms_name_the_cause(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str], screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    page = signed_in("admin")
    reply = page.goto("/flows/99999")
    assert reply is not None and reply.status == 404
    expect(page.locator("#cause")).to_contain_text("There is no flow 99999")
    screenshot(page, "not-found")

    flow = started(rt, drip("Tamper drip"))
    signed_up(rt, people[0])
    p = wait_for(lambda: participant_of(rt, flow, people[0]), "an enrolment")
    page.goto(f"/flows/{flow.id}/participants/{p.id}")
    answer = page.request.post(
        f"{admin_site.url}/flows/{flow.id}/participants/{p.id}/move",
        form={"csrf_token": csrf_of(page), "step_id": "no-such-step"},
    )
    assert answer.status == 400 and "step_id" in answer.text()


def test_users_screen_adds_a_user_and_changes_a_role(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page = signed_in("admin")
    page.get_by_role("link", name="Users").click()
    page.get_by_label("User name").fill("nina")
    page.get_by_label("Password").fill("nina-password-1")
    page.get_by_label("Role", exact=True).select_option("content_editor")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("tr[data-user=nina]")).to_be_visible()
    page.get_by_label("Role of nina").select_option("viewer")
    page.locator("tr[data-user=nina]").get_by_role("button", name="Save").click()
    expect(page.get_by_text("nina is now viewer")).to_be_visible()
    screenshot(page, "users")


def test_a_content_editor_fixes_the_text_of_a_running_flow_without_pausing_it(
    signed_in: Callable[[str], Page], admin_site: AdminSite, people: list[str], screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    flow = started(rt, drip("Editable drip"))
    page = signed_in("editor")
    page.goto(f"/flows/{flow.id}/content/tips/edit")
    expect(page.get_by_text("what you save goes into the next messages")).to_be_visible()
    page.get_by_label("Subject", exact=True).fill("Tips for {{ person.shoe_size }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#errors")).to_contain_text("shoe_size")
    assert flows.get(rt, flow.id).version == 1, "a refused edit stores nothing"
    screenshot(page, "content-edit-refused")

    page.get_by_label("Subject", exact=True).fill("Three tips for {{ person.first_name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("saved as version 2")).to_be_visible()
    screenshot(page, "content-edit-running")
    page.goto(f"/flows/{flow.id}/content?person={people[0]}")
    expect(page.locator("article.message[data-step=tips] .subject")).to_have_text("Three tips for Ingrid")
    assert flows.get(rt, flow.id).version == 2 and flows.get(rt, flow.id).status == "running"
