"""The flow designer in a real browser against the real web app and worker: flows built
from scratch with drag and drop and with the keyboard alone, saved, started and run
by the worker; a third-party plugin's step in the palette with a generated form;
merge-tag and attachment checks; the SMS counter; the filter editor's live count;
a start refused with the list of problems.

The web app and the worker of this module load the test plugin
``tests/browser/plugins/superflow_testkit`` through the ``superflow`` entry-point group.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import flows
from superflow.events import Event
from superflow.plugins.outbox import Outbox

Screenshot = Callable[[Page, str], Path]
PLUGINS = Path(__file__).parent / "plugins"
DAY = 86400
WIDE = {"width": 1560, "height": 1000}
SENDER = "news@superflow.test"


@pytest.fixture(scope="module")
def site_pythonpath() -> list[Path]:
    """The web app and the worker load the test plugin ``superflow_testkit``."""
    return [PLUGINS]


@pytest.fixture(scope="module")
def crm_data(admin_site: AdminSite) -> dict[str, Any]:
    """Two selections of our own and five persons with email, mobile and consent."""
    crm = admin_site.runtime.crm
    company = crm.create_company(name="Nordlys Design AS", category="Customer")
    ids = []
    for i, first in enumerate(("Astrid", "Bendik", "Camilla", "Didrik", "Elise")):
        person = crm.create_person(
            first_name=first,
            last_name="Designer",
            email=f"{first.lower()}@nordlys.test",
            mobile=f"+4791000{i:03d}",
            company_id=company["id"],
        )
        crm.set_consent(person["id"], "emarketing", True)
        ids.append(str(person["id"]))
    return {
        "persons": ids,
        "welcome": str(crm.create_selection("Designer welcome list")["id"]),
        "webinar": str(crm.create_selection("Designer webinar guests")["id"]),
    }


def emails(site: AdminSite, subject: str) -> list[dict[str, Any]]:
    outbox = Outbox(site.runtime.config)
    try:
        return [m for m in outbox.messages("email", limit=500) if m["subject"] == subject]
    finally:
        outbox.close()


def designer(signed_in: Callable[[str], Page], path: str = "/flows/new/design") -> Page:
    page = signed_in("admin")
    page.set_viewport_size(WIDE)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")  # answers such as 422
            else None
        ),
    )
    if path == "/flows/new/design":  # from the flows list's "New flow" button
        page.locator(".page-head").get_by_role("link", name="New flow").click()
    else:
        page.goto(path)
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.locator("[data-canvas] .dz-chart")).to_be_visible()
    page.js_errors = problems  # type: ignore[attr-defined]
    return page


def shoot(page: Page, screenshot: Screenshot, name: str) -> None:
    """A full-page screenshot from the top (the palette is sticky)."""
    page.evaluate("window.scrollTo(0, 0)")
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": WIDE["width"], "height": max(WIDE["height"], height)})
    try:  # Chromium paints the preview's iframe only inside the viewport
        screenshot(page, name)
    finally:
        page.set_viewport_size(WIDE)


def panel(page: Page) -> Locator:
    return page.locator("[data-panel-root]")


def field(page: Page, name: str) -> Locator:
    """The input, select or textarea of the panel's setting ``name``."""
    return panel(page).locator(f'[data-name="{name}"]').locator("input, select, textarea").first


def slot(page: Page, lane: str, index: int) -> Locator:
    return page.locator(f'.dz-slot[data-lane="{lane}"][data-index="{index}"] .dz-plus')


def node(page: Page, step_id: str) -> Locator:
    return page.locator(f'[data-step-id="{step_id}"]')


def drag_new(page: Page, step_type: str, lane: str, index: int) -> None:
    before = page.locator("[data-step-id]").count()
    page.locator(f'.dz-pal-item[data-type="{step_type}"]').drag_to(slot(page, lane, index))
    expect(page.locator("[data-step-id]")).to_have_count(before + 1)


def choose_trigger(page: Page, label: str) -> None:
    """Open the trigger's panel and choose the trigger type shown as ``label``."""
    page.locator("[data-node=trigger]").click()
    page.locator("[data-trigger-type]").select_option(label=label)


def api_event_flow(signed_in: Callable[[str], Page], name: str, event: str) -> Page:
    """A new flow named ``name`` in the designer, started by the API event ``event``."""
    page = designer(signed_in)
    page.locator("[data-flow-name]").fill(name)
    choose_trigger(page, "API event")
    field(page, "name").fill(event)
    return page


def pick_selection(page: Page, name: str, label: str) -> None:
    select = field(page, name)
    expect(select.locator("option", has_text=label)).to_have_count(1)
    select.select_option(label=label)


def fill_email(page: Page, subject: str, html: str) -> None:
    field(page, "subject").fill(subject)
    field(page, "html").fill(html)
    field(page, "from_name").fill("Nordlys News")
    field(page, "from_address").fill(SENDER)


def save(page: Page) -> str:
    page.locator("[data-save]").click()
    flash = page.locator("[data-flash=ok]")
    expect(flash).to_contain_text(re.compile(r"Saved as version \d+"))
    expect(page).to_have_url(re.compile(r"/flows/\d+/design$"))
    return re.search(r"/flows/(\d+)/design", page.url).group(1)  # type: ignore[union-attr]


def start_refused(page: Page) -> Locator:
    """Ask to start the flow and confirm: the list of what keeps it from starting, which
    says so."""
    page.locator("[data-start]").click()
    page.locator("[data-confirm]").click()
    refused = page.locator("[data-start-problems]")
    expect(refused).to_contain_text("The flow can't start yet")
    return refused


def confirm_running(page: Page, verb: str, flow_id: str) -> None:
    """Confirm the open dialog that asks to ``verb`` the flow (Start, Resume): the flow's
    page comes next, showing it running."""
    dialog = page.locator("dialog.dz-dialog")
    expect(dialog).to_contain_text(verb)
    with page.expect_navigation():
        dialog.locator("[data-confirm]").click()
    expect(page).to_have_url(re.compile(rf"/flows/{flow_id}$"))
    expect(page.locator("h1 .badge")).to_have_text("Running")


def start(page: Page, flow_id: str) -> None:
    page.locator("[data-start]").click()
    confirm_running(page, "Start", flow_id)


def test_welcome_series_built_by_drag_and_drop_runs_in_the_worker(
    signed_in: Callable[[str], Page], admin_site: AdminSite, crm_data: dict[str, Any], screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    expect(page.locator("[data-node=trigger]")).to_contain_text("Choose a trigger")
    shoot(page, screenshot, "designer-new-flow")

    page.locator("[data-flow-name]").fill("Welcome series")
    choose_trigger(page, "Added to selection")
    pick_selection(page, "selection", "Designer welcome list")
    expect(page.locator("[data-node=trigger]")).to_contain_text("Designer welcome list")

    drag_new(page, "send_email", "root", 0)
    field(page, "subject").fill("Welcome, ")
    panel(page).locator('[data-name="subject"] .dz-tag-btn').click()
    expect(page.locator(".dz-menu")).to_be_visible()  # the picker fetches its tags first
    page.keyboard.type("first name")
    page.keyboard.press("Enter")
    expect(field(page, "subject")).to_have_value("Welcome, {{ person.first_name }}")
    fill_email(
        page, field(page, "subject").input_value(), "<p>Hi {{ person.first_name }}, welcome aboard.</p>"
    )
    page.locator("[data-step-name]").fill("Welcome")
    panel(page).locator("[data-generate-text]").click()
    expect(field(page, "text")).to_have_value("Hi {{ person.first_name }}, welcome aboard.")
    expect(panel(page).locator("[data-preview-subject]")).to_have_text(re.compile(r"^Welcome, \w+"))
    expect(page.frame_locator("[data-preview-html]").locator("body")).to_contain_text("welcome aboard")
    shoot(page, screenshot, "designer-email-editor")

    drag_new(page, "wait", "root", 1)
    field(page, "amount").fill("3")
    field(page, "unit").select_option(label="Days")

    drag_new(page, "send_email", "root", 2)
    fill_email(
        page, "Three tips for {{ person.first_name }}", "<p>Tip one: <strong>start small</strong>.</p>"
    )
    page.locator("[data-step-name]").fill("Tips")

    drag_new(page, "create_follow_up", "root", 3)
    field(page, "title").fill("Call {{ person.first_name }} about the welcome")

    chart = page.locator("[data-canvas]")
    expect(chart.locator(".dz-step")).to_have_count(4)
    expect(chart.locator(".dz-step .kind")).to_have_text(
        ["Step 1 · Send email", "Step 2 · Wait", "Step 3 · Send email", "Step 4 · Create follow-up"]
    )
    expect(chart.locator(".dz-count")).to_have_count(0)
    page.locator("[data-node=filters]").click()  # leave the last field so the chart is seen whole
    shoot(page, screenshot, "designer-welcome-series")

    flow_id = save(page)
    expect(page.locator(".dz-state")).to_have_text("Version 1 saved")
    start(page, flow_id)

    rt = admin_site.runtime
    first, second = crm_data["persons"][:2]
    rt.crm.add_to_selection(crm_data["welcome"], [first, second])
    welcome = wait_for(lambda: emails(admin_site, "Welcome, Astrid"), "the welcome email to Astrid")
    assert welcome[0]["recipient"] == "astrid@nordlys.test"
    assert "Hi Astrid, welcome aboard." in welcome[0]["html"]
    wait_for(lambda: emails(admin_site, "Welcome, Bendik"), "the welcome email to Bendik")
    wait_for(lambda: rt.store.stats(flow_id).get("at:wait-2") == 2, "both waiting three days")

    rt.clock.advance(3 * DAY + 60)
    tips = wait_for(lambda: emails(admin_site, "Three tips for Bendik"), "the tips email")
    assert "<strong>start small</strong>" in tips[0]["html"]
    wait_for(lambda: rt.store.stats(flow_id).get("completed") == 2, "both through the flow")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_webinar_flow_built_with_the_keyboard_alone_splits_on_opens(
    signed_in: Callable[[str], Page], admin_site: AdminSite, crm_data: dict[str, Any], screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    keys = page.keyboard
    expect(page.locator("[data-flow-name]")).to_be_focused()
    keys.press("Control+A")
    keys.type("Webinar follow-up")

    def add_step(lane: str, index: int, query: str) -> None:
        slot(page, lane, index).focus()
        keys.press("Enter")
        expect(page.locator(".dz-menu input")).to_be_focused()
        keys.type(query)
        keys.press("Enter")
        expect(page.locator(".dz-menu")).to_have_count(0)

    page.locator("[data-node=trigger]").focus()
    keys.press("Enter")
    expect(page.locator("[data-trigger-type]")).to_be_focused()
    page.locator("[data-trigger-type]").select_option(label="Added to selection")
    pick_selection(page, "selection", "Designer webinar guests")

    add_step("root", 0, "send email")
    expect(node(page, "email-1")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("[data-step-name]")).to_be_focused()
    keys.type("The recording")
    fill_email(
        page,
        "The recording, {{ person.first_name }}",
        "<p>Watch it <a href='https://x.test/rec'>here</a>.</p>",
    )

    add_step("root", 1, "wait")
    expect(node(page, "wait-2")).to_be_focused()
    keys.press("Enter")
    field(page, "amount").fill("1")

    add_step("root", 2, "split")
    keys.press("Enter")
    branch = panel(page).locator('[data-branch="0"]')
    branch.locator("input").first.fill("Opened it")
    branch.locator("select").first.select_option(label="Opened or clicked an email of this flow")
    expect(branch.locator('[data-name="action"] select')).to_have_value("0")  # "email.opened", the default
    branch.locator('[data-name="step"] select').select_option(label="Step 1 'The recording'")

    add_step("split-3:b0", 0, "send email")
    keys.press("Enter")
    fill_email(page, "Thanks for watching, {{ person.first_name }}", "<p>Glad you watched.</p>")
    add_step("split-3:else", 0, "send email")
    keys.press("Enter")
    fill_email(page, "Sorry we missed you, {{ person.first_name }}", "<p>Here is the summary.</p>")
    expect(page.locator(".dz-branches .dz-branch")).to_have_count(2)
    expect(page.locator(".dz-else .dz-step")).to_have_count(1)

    page.locator("[data-node=goal]").focus()
    keys.press("Enter")
    panel(page).locator("[data-add-criterion]").focus()
    keys.press("Enter")
    keys.type("sale created")
    keys.press("Enter")
    expect(panel(page).locator("[data-criterion]")).to_have_count(1)
    expect(page.locator("[data-node=goal]")).to_contain_text("Sale created")
    node(page, "split-3").click()
    shoot(page, screenshot, "designer-webinar-split")

    # duplicate, move, delete, undo and redo from the keyboard
    node(page, "wait-2").focus()
    keys.press("Control+d")
    expect(page.locator("[data-canvas] .dz-chart > .dz-step")).to_have_count(4)
    copy = page.locator("[data-canvas] .dz-chart > .dz-step").nth(2)
    expect(copy).to_be_focused()
    copy_id = copy.get_attribute("data-step-id")
    keys.press("Alt+ArrowUp")
    expect(page.locator("[data-canvas] .dz-chart > .dz-step").nth(1)).to_have_attribute(
        "data-step-id", copy_id or ""
    )
    expect(node(page, copy_id or "")).to_be_focused()
    keys.press("Delete")
    expect(node(page, copy_id or "")).to_have_count(0)
    keys.press("Control+z")
    expect(node(page, copy_id or "")).to_have_count(1)
    keys.press("Control+Shift+z")
    expect(node(page, copy_id or "")).to_have_count(0)
    expect(page.locator("[data-canvas] .dz-chart > .dz-step .kind")).to_have_text(
        ["Step 1 · Send email", "Step 2 · Wait", "Step 3 · Split"]
    )

    keys.press("Control+s")
    expect(page.locator("[data-flash=ok]")).to_contain_text("Saved as version 1")
    flow_id = re.search(r"/flows/(\d+)/design", page.url).group(1)  # type: ignore[union-attr]
    page.locator("[data-start]").focus()
    keys.press("Enter")
    expect(page.locator("[data-confirm]")).to_be_focused()
    with page.expect_navigation():
        keys.press("Enter")
    expect(page.locator("h1 .badge")).to_have_text("Running")

    rt = admin_site.runtime
    watcher, buyer, other = crm_data["persons"][2:5]
    rt.crm.add_to_selection(crm_data["webinar"], [watcher, buyer, other])
    for first in ("Camilla", "Didrik", "Elise"):
        wait_for(
            lambda first=first: emails(admin_site, f"The recording, {first}"), f"the recording to {first}"
        )
    wait_for(lambda: rt.store.stats(flow_id).get("at:wait-2") == 3, "three waiting a day")
    participant = rt.store.person_participations([watcher])[watcher].get(flow_id)
    rt.emit(
        [
            Event(
                "email.opened",
                watcher,
                {"participant_id": participant, "step_id": "email-1", "flow_id": flow_id},
            )
        ]
    )
    rt.crm.create_sale(buyer, "Webinar deal", amount=1000)
    wait_for(lambda: rt.store.stats(flow_id).get("succeeded") == 1, "the buyer reaching the goal")

    rt.clock.advance(DAY + 60)
    wait_for(lambda: emails(admin_site, "Thanks for watching, Camilla"), "the opened branch's email")
    wait_for(lambda: emails(admin_site, "Sorry we missed you, Elise"), "everyone else's email")
    wait_for(lambda: rt.store.stats(flow_id).get("completed") == 2, "two through the flow")
    assert not emails(admin_site, "Sorry we missed you, Camilla")
    assert not emails(admin_site, "Thanks for watching, Elise")
    assert not [
        m
        for m in Outbox(rt.config).messages("email")
        if "Didrik" in m["subject"] and "recording" not in m["subject"]
    ]
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_third_party_step_gets_a_generated_form_that_saves_valid_settings_only(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    item = page.locator('.dz-pal-item[data-type="award_badge"]')
    expect(item).to_contain_text("Award badge")
    expect(page.locator(".dz-pal-group", has=item).locator("h3")).to_have_text("Testkit")
    page.locator("[data-flow-name]").fill("Badges")
    drag_new(page, "award_badge", "root", 0)

    form = panel(page)
    expect(form.locator('[data-name="badge"] label')).to_have_text("Badge name *")
    expect(form.locator('[data-name="badge"] .help')).to_have_text(
        "What the person is awarded, e.g. Early bird"
    )
    expect(field(page, "points")).to_have_attribute("min", "1")
    expect(field(page, "points")).to_have_attribute("max", "100")
    expect(field(page, "level").locator("option")).to_have_text(["Bronze", "Silver", "Gold"])
    field(page, "badge").fill("x")
    field(page, "badge").fill("")
    expect(form.locator('[data-name="badge"] .dz-msg')).to_have_text("Badge name is required")
    field(page, "points").fill("500")
    expect(form.locator('[data-name="points"] .dz-msg')).to_have_text("Points must be at most 100")
    expect(node(page, "award-badge-1").locator(".dz-count")).to_have_text(re.compile(r"\d"))

    page.locator("[data-save]").click()  # the server refuses, naming the field
    refused = page.locator("[data-flash=error]")
    expect(refused).to_contain_text("Not saved")
    expect(refused).to_contain_text("Step 1 'Award badge', Points:")
    field(page, "badge").fill("Early bird")
    expect(form.locator('[data-name="points"] .dz-msg')).to_have_text("Points must be at most 100")
    shoot(page, screenshot, "designer-plugin-step-refused")

    field(page, "points").fill("50")
    field(page, "level").select_option(label="Gold")
    form.get_by_role("button", name="green").click()  # the plugin's own widget
    expect(form.get_by_role("button", name="green")).to_have_attribute("aria-pressed", "true")
    expect(form.locator(".dz-invalid")).to_have_count(0)
    flow_id = save(page)
    saved = admin_site.runtime.store.flow_doc(flow_id)["steps"][0]  # type: ignore[index]
    assert saved["type"] == "award_badge"
    assert saved["settings"] == {"badge": "Early bird", "points": 50, "level": "gold", "colour": "green"}
    expect(node(page, "award-badge-1")).to_contain_text("Badge name: Early bird")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_unknown_merge_tags_are_underlined_and_big_attachments_refused(
    signed_in: Callable[[str], Page], admin_site: AdminSite, tmp_path: Path
) -> None:
    page = designer(signed_in)
    page.locator("[data-flow-name]").fill("Shoe news")
    drag_new(page, "send_email", "root", 0)
    fill_email(page, "Your size: {{ person.shoe_size }}", "<p>Hello {{ person.first_name }}</p>")
    subject = panel(page).locator('[data-name="subject"]')
    expect(subject.locator("mark.dz-bad-tag")).to_have_text("{{ person.shoe_size }}")
    expect(subject.locator(".dz-tag-note")).to_contain_text("Unknown merge tag: {{ person.shoe_size }}")
    underline = subject.locator("mark.dz-bad-tag").evaluate("m => getComputedStyle(m).textDecorationStyle")
    assert underline == "wavy"

    page.locator("[data-save]").click()  # a draft saves: the unknown tag is a problem to fix before start
    saved = page.locator("[data-flash=ok]")
    expect(saved).to_contain_text(
        re.compile(r"Saved as version 1\. \d+ problems? to fix before it can start")
    )
    expect(page).to_have_url(re.compile(r"/flows/\d+/design$"))
    expect(subject.locator("mark.dz-bad-tag")).to_have_text("{{ person.shoe_size }}")

    big = tmp_path / "price-list.pdf"
    with big.open("wb") as out:
        out.truncate(26 * 1024 * 1024)
    panel(page).locator("[data-upload]").set_input_files(big)
    error = panel(page).locator("[data-upload-error]")
    expect(error).to_contain_text("price-list.pdf is 26.0 MB")
    expect(error).to_contain_text("the limit is 25.0 MB")
    small = tmp_path / "agenda.txt"
    small.write_text("09:00 coffee")
    panel(page).locator("[data-upload]").set_input_files(small)
    expect(panel(page).locator(".dz-files")).to_contain_text("agenda.txt")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_sms_editor_counts_characters_and_parts(
    signed_in: Callable[[str], Page], screenshot: Screenshot
) -> None:
    page = designer(signed_in)
    page.locator("[data-flow-name]").fill("Text reminders")
    drag_new(page, "send_sms", "root", 0)
    field(page, "sender").fill("Nordlys")
    text = field(page, "text")
    count = panel(page).locator("[data-sms-count]")
    text.fill("x" * 73)
    expect(count).to_have_text("73 characters · 1 SMS (GSM-7)")
    text.fill("x" * 160)
    expect(count).to_have_text("160 characters · 1 SMS (GSM-7)")
    text.fill("x" * 159 + "€")
    expect(count).to_have_text("161 characters · 2 SMS (GSM-7)")
    text.fill("x" * 70 + "ł")
    expect(count).to_have_text("71 characters · 2 SMS (UCS-2)")
    text.fill("Hi {{ person.first_name }}, the webinar starts at 10:00 tomorrow. Reply STOP to opt out.")
    expect(count).to_have_text("65 characters · 1 SMS (GSM-7) · merge tags not counted")
    bubble = panel(page).locator("[data-preview-sms]")
    expect(bubble).to_have_text(re.compile(r"^Hi \w+, the webinar starts at 10:00 tomorrow"))
    shoot(page, screenshot, "designer-sms-editor")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_filter_editor_shows_the_live_count(
    signed_in: Callable[[str], Page], admin_site: AdminSite, crm_data: dict[str, Any], screenshot: Screenshot
) -> None:
    crm = admin_site.runtime.crm
    vips = str(crm.create_selection("Designer VIPs")["id"])
    crm.add_to_selection(vips, crm_data["persons"][:3])
    page = designer(signed_in)
    page.locator("[data-node=filters]").click()
    live = page.locator("[data-live-count]")
    expect(live).to_have_text(re.compile(r"^(\d+) of \1 persons in the CRM match now$"))
    panel(page).locator("[data-add-condition]").click()
    page.keyboard.type("member of selection")
    page.keyboard.press("Enter")
    pick_selection(page, "selection", "Designer VIPs")
    expect(live).to_have_text(re.compile(r"^3 of \d+ persons in the CRM match now$"))
    expect(page.locator("[data-node=filters]")).to_contain_text("1 condition")

    panel(page).locator("[data-add-condition]").last.click()
    page.keyboard.type("has mobile")
    page.keyboard.press("Enter")
    expect(panel(page).locator("[data-condition]")).to_have_count(2)
    panel(page).locator('[data-op="or"]').first.click()
    expect(page.locator("[data-node=filters]")).to_contain_text("2 conditions · any may match")
    expect(live).to_have_text(re.compile(r"^\d+ of \d+ persons in the CRM match now$"))
    panel(page).locator('[data-op="and"]').first.click()
    expect(live).to_have_text(re.compile(r"^3 of \d+ persons in the CRM match now$"))
    shoot(page, screenshot, "designer-filter-count")
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_start_is_refused_with_the_list_and_running_flows_are_read_only(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page = api_event_flow(signed_in, "Half done", "demo.booked")
    drag_new(page, "send_email", "root", 0)
    field(page, "subject").fill("Almost there")
    flow_id = save(page)
    expect(page.locator("[data-flash=ok]")).to_contain_text("to fix before it can start")

    refused = start_refused(page)
    expect(refused.locator("li")).not_to_have_count(0)
    expect(refused).to_contain_text("From address is required")
    expect(node(page, "email-1").locator(".dz-count")).to_be_visible()
    expect(panel(page).locator('[data-name="from_address"] .dz-msg')).to_have_text("From address is required")
    shoot(page, screenshot, "designer-start-refused")
    assert flows.get(admin_site.runtime, flow_id).status == "draft"

    field(page, "from_address").fill(SENDER)
    field(page, "html").fill("<p>Nearly.</p>")
    start(page, flow_id)
    page.get_by_role("link", name="Open designer").click()
    expect(page.locator("[data-read-only]")).to_contain_text(
        "Pause it to edit: participants keep their place"
    )
    expect(page.locator(".dz-palette")).to_have_count(0)
    expect(page.locator("[data-save]")).to_have_count(0)
    node(page, "email-1").click()
    expect(field(page, "subject")).to_be_disabled()
    shoot(page, screenshot, "designer-read-only")
    page.locator(".dz-version").select_option(label="Version 1")
    expect(page.locator("[data-read-only]")).to_contain_text("This is version 1, kept for reference")
    assert page.js_errors == []  # type: ignore[attr-defined]
