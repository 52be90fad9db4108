"""A designer that does not mislead the marketer (issue 14), told as the marketer's
stories in a real Chromium against the real web app and worker: a paused flow shows
"Paused" and offers Resume; the + menu lists each category once; a chosen trigger is
shown as chosen; problems and histories speak in labels; the Link button asks for an
address; the form trigger offers the forms by name; the chart reads "Wait 1 day"."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from browser.test_designer import choose_trigger
from browser.test_designer import confirm_running
from superflow import flows
from superflow import forms
from superflow.events import Event

Screenshot = Callable[[Page, str], Path]
WIDE = {"width": 1500, "height": 1000}
INTERNAL = re.compile(r"from_address|\bhtml\b|flow_admin|api\.event|date_reached|\{\{")


def designer(signed_in: Callable[[str], Page], path: str = "/flows/new/design") -> Page:
    page = signed_in("admin")
    page.set_viewport_size(WIDE)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path)
    expect(page.locator("[data-canvas] .dz-chart")).to_be_visible()
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def welcome_doc(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": {"type": "api_event", "settings": {"name": "truthful.signed_up"}},
        "steps": [
            {
                "id": "hello",
                "type": "send_email",
                "name": "Welcome email",
                "settings": {
                    "from_address": "news@superflow.test",
                    "subject": "Hi {{ person.first_name }}",
                    "html": "<p>Hi {{ person.first_name | default('friend') }}</p>",
                },
            },
            {"id": "pause", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
        ],
    }


def test_a_paused_flow_says_paused_and_resumes_from_the_designer(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    flow = flows.create(admin_site.runtime, welcome_doc("Paused welcome"))
    flows.start(admin_site.runtime, flow.id)
    page = signed_in("admin")
    page.goto(f"/flows/{flow.id}/pause")
    with page.expect_navigation():
        page.get_by_role("button", name="Pause flow").click()
    expect(page.locator("h1 .badge")).to_have_text("Paused")
    expect(page.locator(".live")).to_have_count(0)  # nothing says "Live" on a paused flow
    screenshot(page, "truthful-paused-flow-page")

    page.goto(f"/flows/{flow.id}/start")
    expect(page.locator("main")).to_contain_text("resume it")
    expect(page.locator("main")).not_to_contain_text("only a draft can be started")

    page = designer(signed_in, f"/flows/{flow.id}/design")
    expect(page.locator(".dz-head .badge")).to_have_text("Paused")
    expect(page.locator("[data-start]")).to_be_hidden()
    resume = page.locator("[data-resume]")
    expect(resume).to_be_visible()
    expect(resume).to_have_text("Resume flow")
    screenshot(page, "truthful-paused-designer")
    resume.click()
    confirm_running(page, "Resume", flow.id)
    expect(page.locator(".flash").first).to_contain_text("running again")
    assert flows.get(admin_site.runtime, flow.id).status == "running"


def test_adding_a_step_from_the_grouped_menu_and_seeing_its_problems_in_labels(
    signed_in: Callable[[str], Page], screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    page.locator(".dz-plus").first.click()
    menu = page.locator(".dz-menu")
    headers = menu.locator(".dz-menu-group").all_inner_texts()
    assert headers, "the menu is grouped by category"
    assert len(headers) == len({h.lower() for h in headers}), f"each category once: {headers}"
    assert headers[0].lower() == "messages", headers
    screenshot(page, "truthful-plus-menu")
    menu.get_by_role("option", name="Send email").click()
    expect(page.locator("[data-step-id]")).to_have_count(1)

    page.locator(".dz-problems-btn").click()
    checks = page.locator("[data-checks]")
    expect(checks.locator("li")).not_to_have_count(0)  # the badge's problems are listed
    count = int(page.locator(".dz-problems-btn").inner_text().split()[0])
    expect(checks.locator("li.dz-bad")).to_have_count(count)
    expect(checks).to_contain_text("From address is required")
    expect(checks).to_contain_text("Body is required")
    assert not INTERNAL.search(checks.inner_text()), checks.inner_text()
    screenshot(page, "truthful-problems-in-labels")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_chosen_trigger_is_shown_and_the_date_field_defaults_to_birth_date(
    signed_in: Callable[[str], Page], screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    page.locator("[data-node=trigger]").click()
    panel = page.locator("[data-panel-root]")
    expect(panel).to_contain_text("choose what starts the flow")
    page.locator("[data-trigger-type]").select_option(label="Date reached")
    expect(page.locator("[data-node=trigger] .title")).to_have_text("Date reached")
    expect(panel).not_to_contain_text("choose what starts the flow")
    page.wait_for_timeout(1200)  # the live check has answered: still not asked again
    expect(panel).not_to_contain_text("choose what starts the flow")
    date_field = panel.locator('[data-name="field"] select')
    expect(date_field.locator("option:checked")).to_have_text(re.compile("Birth date"))
    expect(date_field.locator("option", has_text="—")).to_have_count(0)
    expect(page.locator("[data-node=trigger]")).to_contain_text("Birth date")
    screenshot(page, "truthful-date-trigger")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_the_form_trigger_offers_the_forms_by_name(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    for form_id, name in (("spring-webinar", "Spring webinar sign-up"), ("price-list", "Price list request")):
        forms.create(
            admin_site.runtime.redis,
            {
                "id": form_id,
                "name": name,
                "fields": [
                    {"name": "email", "label": "Email", "type": "email", "maps_to": "email", "required": True}
                ],
            },
        )
    page = designer(signed_in)
    choose_trigger(page, "Form submitted")
    pick = page.locator('[data-panel-root] [data-name="form"] select')
    expect(pick.locator("option", has_text="Spring webinar sign-up")).to_have_count(1)
    expect(pick.locator("option", has_text="Price list request")).to_have_count(1)
    expect(pick.locator("option:checked")).to_have_text("Any form")
    pick.select_option(label="Price list request")
    expect(page.locator("[data-node=trigger]")).to_contain_text("Price list request")
    screenshot(page, "truthful-form-trigger")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_the_link_button_asks_for_the_address_and_checks_it(
    signed_in: Callable[[str], Page], screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    page.locator(".dz-plus").first.click()
    page.locator(".dz-menu").get_by_role("option", name="Send email").click()
    body = page.locator('[data-panel-root] [data-name="html"] textarea').first
    body.fill("<p>Our spring offer: see the prices</p>")
    body.evaluate("t => { const at = t.value.indexOf('see the prices'); t.setSelectionRange(at, at + 14); }")
    page.get_by_role("button", name="Link", exact=True).click()
    dialog = page.locator("dialog.dz-link-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-link-text]")).to_have_value("see the prices")
    dialog.locator("[data-link-url]").fill("prices")
    dialog.locator("[data-link-insert]").click()
    expect(dialog.locator("[data-link-error]")).to_contain_text("https://")
    assert "href" not in body.input_value(), "nothing is inserted before the address is right"
    screenshot(page, "truthful-link-dialog")
    dialog.locator("[data-link-url]").fill("https://nordlys.test/prices")
    dialog.locator("[data-link-insert]").click()
    expect(dialog).to_have_count(0)
    expect(body).to_have_value(
        '<p>Our spring offer: <a href="https://nordlys.test/prices">see the prices</a></p>'
    )
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_the_chart_and_a_history_read_in_words(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    flow = flows.create(rt, welcome_doc("Words welcome"))
    flows.start(rt, flow.id)

    page = designer(signed_in, f"/flows/{flow.id}/design")
    canvas = page.locator("[data-canvas]")
    expect(canvas).to_contain_text("Hi [First name]")
    expect(canvas).to_contain_text("1 day")
    assert "{{" not in canvas.inner_text() and "1 days" not in canvas.inner_text()

    page.goto(f"/flows/{flow.id}/chart")
    chart = page.locator("main")
    expect(chart).to_contain_text("Wait 1 day")
    assert "{{" not in chart.inner_text() and "1 days" not in chart.inner_text(), chart.inner_text()
    screenshot(page, "truthful-flow-chart")

    person = rt.crm.create_person(first_name="Tone", last_name="Truthful", email="tone@truthful.test")
    rt.emit([Event("api.event", str(person["id"]), {"name": "truthful.signed_up"})])
    who = str(person["id"])
    pid = wait_for(
        lambda: rt.store.person_participations([who])[who].get(flow.id), "the worker enrols the person", 20
    )
    wait_for(
        lambda: (p := rt.store.participant(pid)) is not None and p.step == "pause", "the email step ran", 20
    )
    page.goto(f"/flows/{flow.id}/participants/{pid}")
    history = page.locator("#history")
    expect(history).to_contain_text("Enrolled")
    expect(history).to_contain_text("API event")
    expect(history).to_contain_text("Step 1 'Welcome email'")
    facts = page.locator(".facts")
    assert not INTERNAL.search(history.inner_text() + facts.inner_text()), history.inner_text()
    screenshot(page, "truthful-history")
