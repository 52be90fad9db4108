"""The forms story in a real browser: a marketer builds a form in the admin, copies
its embed snippet into a static page served from another origin, makes a flow whose
trigger is that form (picked from the list in the designer), and a visitor's
submission on the static page starts the flow for them.  Also the API keys screen,
and the email step's "When someone clicks a link" setting.  Screenshots go to
/tmp/shots/forms/."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import forms

SHOTS = Path("/tmp/shots/forms")
WIDE = {"width": 1400, "height": 900}


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def marketing_site() -> Iterator[Callable[[str], str]]:
    """``publish(html)`` serves ``html`` as the home page of a site on another origin
    (127.0.0.2, another port); gives its address."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def publish(html: str) -> str:
        pages["/"] = html
        return f"http://127.0.0.2:{server.server_port}/"

    yield publish
    server.shutdown()
    server.server_close()


def panel_field(page: Page, name: str):
    return (
        page.locator("[data-panel-root]")
        .locator(f'[data-name="{name}"]')
        .locator("input, select, textarea")
        .first
    )


def test_a_form_built_in_the_admin_and_embedded_elsewhere_starts_its_flow(
    admin_site: AdminSite, signed_in: Callable[[str], Page], marketing_site: Callable[[str], str]
) -> None:
    rt = admin_site.runtime
    page = signed_in("editor")
    page.set_viewport_size(WIDE)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forms").click()
    expect(page.locator("h1")).to_have_text("Forms")
    page.locator("#new-form").click()
    page.wait_for_load_state("load")

    page.get_by_label("Name", exact=False).first.fill("Webinar sign-up")
    page.get_by_label("Heading").fill("Join our spring webinar")
    page.locator("#add-field").click()
    rows = page.locator("[data-row]")
    expect(rows).to_have_count(3)
    rows.nth(2).locator("input[name$=-label]").fill("Which topic interests you most?")
    rows.nth(2).locator("select[name$=-type]").select_option(label="Drop-down list")
    expect(rows.nth(2).locator("textarea[name$=-choices]")).to_be_visible()
    rows.nth(2).locator("textarea[name$=-choices]").fill("Automation\nReporting")
    rows.nth(1).get_by_role("button", name=re.compile("Move field .* down")).click()
    expect(rows.nth(2).locator("input[name$=-label]")).to_have_value("First name")
    page.get_by_label("Thank-you text").fill("See you at the webinar!")
    shot(page, "form-builder-new")
    page.locator("#save-form").click()

    expect(page.locator(".flash-ok")).to_contain_text("The form 'Webinar sign-up' was saved")
    [form] = [f for f in forms.list_forms(rt.redis) if f["name"] == "Webinar sign-up"]
    assert [f["label"] for f in form["fields"]] == ["Email", "Which topic interests you most?", "First name"]
    snippet = page.locator("#embed-snippet").input_value()
    assert f'action="{admin_site.url}/forms/{form["id"]}"' in snippet
    page.locator("#copy-snippet").click()
    expect(page.locator("#copy-snippet")).to_have_text("Copied")
    shot(page, "form-builder-saved")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forms").click()
    expect(page.locator(f'tr[data-form="{form["id"]}"]')).to_contain_text("None yet")
    shot(page, "forms-list")

    # the flow, its trigger picked from the list of forms
    admin = signed_in("admin")
    admin.set_viewport_size(WIDE)
    admin.goto("/flows/new/design")
    expect(admin.locator("[data-canvas] .dz-chart")).to_be_visible()
    admin.locator("[data-flow-name]").fill("Webinar follow-up")
    admin.locator("[data-node=trigger]").click()
    admin.locator("[data-trigger-type]").select_option(label="Form submitted")
    form_select = panel_field(admin, "form")
    expect(form_select.locator("option", has_text="Webinar sign-up")).to_have_count(1)
    form_select.select_option(label="Webinar sign-up")
    expect(admin.locator("[data-node=trigger]")).to_contain_text("Webinar sign-up")
    admin.locator('.dz-pal-item[data-type="wait"]').drag_to(
        admin.locator('.dz-slot[data-lane="root"][data-index="0"] .dz-plus')
    )
    expect(admin.locator("[data-step-id]")).to_have_count(1)
    panel_field(admin, "amount").fill("3")
    admin.locator("[data-save]").click()
    expect(admin.locator("[data-flash=ok]")).to_contain_text(re.compile(r"Saved as version \d+"))
    flow_id = re.search(r"/flows/(\d+)/design", admin.url).group(1)  # type: ignore[union-attr]
    admin.locator("[data-start]").click()
    with admin.expect_navigation():
        admin.locator("dialog.dz-dialog [data-confirm]").click()
    expect(admin.locator("h1 .badge")).to_have_text("Running")

    # the visitor, on the marketer's own site
    address = marketing_site(
        "<!doctype html><html><head><title>Spring webinar</title>"
        "<style>body{font-family:sans-serif;max-width:36rem;margin:2rem auto}</style></head>"
        f"<body><h1>Nordlys spring webinar</h1><p>Sign up below.</p>{snippet}</body></html>"
    )
    visitor = page.context.browser.new_page()  # type: ignore[union-attr]
    visitor.goto(address)
    visitor.get_by_label("Email").fill("sigrid.lie@example.com")
    visitor.get_by_label("First name").fill("Sigrid")
    visitor.get_by_label("Which topic interests you most?").select_option("Reporting")
    shot(visitor, "embedded-form")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator("#check-inbox")).to_be_visible()
    assert visitor.url.startswith(admin_site.url)
    shot(visitor, "embedded-form-sent")
    visitor.close()

    person = wait_for(lambda: rt.crm.find_person_by_email("sigrid.lie@example.com"), "the new person")
    assert person["first_name"] == "Sigrid"
    admin.goto(f"/flows/{flow_id}/participants")

    def listed() -> bool:
        admin.reload()
        return "Sigrid" in admin.locator("main").inner_text()

    wait_for(listed, "Sigrid among the flow's participants")
    shot(admin, "flow-participants")

    admin.goto(f"/flows/{flow_id}/content")
    expect(admin.locator("#flow-forms")).to_contain_text("Trigger 'Form submitted': Webinar sign-up")
    admin.goto(f"/site-forms/{form['id']}/delete")
    expect(admin.locator("#refusal")).to_contain_text("Webinar follow-up")


def test_the_api_keys_screen_shows_a_new_key_once(
    admin_site: AdminSite, signed_in: Callable[[str], Page]
) -> None:
    page = signed_in("admin")
    page.set_viewport_size(WIDE)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Website events")
    page.get_by_label("What it may do").select_option(
        label="Post events only (for a website or a webinar tool)"
    )
    page.get_by_role("button", name="Make key").click()
    secret = page.locator("#new-key-secret").input_value()
    assert secret.startswith("sf_")
    expect(page.locator("#new-key")).to_contain_text("it will not be shown again")
    shot(page, "apikeys-made")
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.locator('tr[data-key="Website events"]')).to_contain_text(secret[:7] + "…")
    shot(page, "apikeys-list")
    page.get_by_role("link", name="Revoke Website events").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.locator(".flash-ok")).to_contain_text("was revoked")


def test_the_email_step_lists_its_links_for_link_actions(
    admin_site: AdminSite, signed_in: Callable[[str], Page]
) -> None:
    selection = admin_site.runtime.crm.create_selection("Clicked the offer")
    page = signed_in("admin")
    page.set_viewport_size(WIDE)
    page.goto("/flows/new/design")
    expect(page.locator("[data-canvas] .dz-chart")).to_be_visible()
    page.locator('.dz-pal-item[data-type="send_email"]').drag_to(
        page.locator('.dz-slot[data-lane="root"][data-index="0"] .dz-plus')
    )
    panel_field(page, "html").fill(
        '<p>Hi! See <a href="https://shop.example/offer">our offer</a> or <a href="https://shop.example/about">us</a>.</p>'
    )
    box = page.locator(".dz-link-actions")
    expect(box.locator("[data-link]")).to_have_count(2)
    offer = box.locator('[data-link="https://shop.example/offer"]')
    offer.get_by_label("Add an action to https://shop.example/offer").select_option(label="Add to selection")
    offer.locator("[data-action=add_to_selection] select").select_option(label="Clicked the offer")
    box.scroll_into_view_if_needed()
    shot(page, "designer-link-actions")
    page.locator("[data-save]").click()
    expect(page.locator("[data-flash=ok]")).to_contain_text(re.compile(r"Saved as version \d+"))
    flow_id = re.search(r"/flows/(\d+)/design", page.url).group(1)  # type: ignore[union-attr]
    from superflow import flows

    step = flows.get(admin_site.runtime, flow_id).doc["steps"][0]
    assert step["settings"]["link_actions"] == [
        {
            "url": "https://shop.example/offer",
            "actions": [{"type": "add_to_selection", "settings": {"selection": str(selection["id"])}}],
        }
    ]


def test_a_designed_email_lists_its_tracked_links_for_link_actions(
    admin_site: AdminSite, signed_in: Callable[[str], Page]
) -> None:
    """The links of a design made from a template (its button, its social links) are
    offered for link actions, and an action chosen for one is saved with the step."""
    admin_site.runtime.crm.create_selection("Read the news")
    page = signed_in("admin")
    page.set_viewport_size(WIDE)
    page.goto("/flows/new/design")
    expect(page.locator("[data-canvas] .dz-chart")).to_be_visible()
    page.locator('.dz-pal-item[data-type="send_email"]').drag_to(
        page.locator('.dz-slot[data-lane="root"][data-index="0"] .dz-plus')
    )
    page.locator("[data-panel-root] [data-template-picker] [data-starter=newsletter]").click()
    box = page.locator(".dz-link-actions")
    news = box.locator('[data-link="https://example.com/news"]')
    expect(news).to_be_visible()
    expect(box.locator('[data-link="https://www.linkedin.com/"]')).to_be_visible()
    news.get_by_label("Add an action to https://example.com/news").select_option(label="Add to selection")
    news.locator("[data-action=add_to_selection] select").select_option(label="Read the news")
    shot(page, "designer-link-actions-design")
    page.locator("[data-save]").click()
    expect(page.locator("[data-flash=ok]")).to_contain_text(re.compile(r"Saved as version \d+"))
    flow_id = re.search(r"/flows/(\d+)/design", page.url).group(1)  # type: ignore[union-attr]
    from superflow import flows

    settings = flows.get(admin_site.runtime, flow_id).doc["steps"][0]["settings"]
    assert settings["body"] == "design"
    assert [entry["url"] for entry in settings["link_actions"]] == ["https://example.com/news"]
