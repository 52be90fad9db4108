"""The marketer's abandoned-cart email in a real browser: an API event trigger with a
sample of what the shop sends, a loop over ``event.items`` picked from the merge-tag
picker, a preview that shows the items, a start that works and a real event that
sends the email with the shop's items."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from browser.test_designer import api_event_flow
from browser.test_designer import drag_new
from browser.test_designer import field
from browser.test_designer import fill_email
from browser.test_designer import panel
from browser.test_designer import save
from browser.test_designer import shoot
from browser.test_designer import start
from browser.test_designer import start_refused
from superflow import flows
from superflow.events import Event
from superflow.plugins.outbox import Outbox

Screenshot = Callable[[Page, str], Path]
SAMPLE = {"items": [{"name": "Kettle", "price": 39}, {"name": "Mugs, set of 4", "price": 24}], "total": 63}


def cart_emails(site: AdminSite) -> list[dict[str, Any]]:
    outbox = Outbox(site.runtime.config)
    try:
        return [m for m in outbox.messages("email", limit=500) if m["subject"].startswith("You left")]
    finally:
        outbox.close()


def pick_tag(page: Page, setting: str, words: str) -> None:
    panel(page).locator(f'[data-name="{setting}"] .dz-tag-btn').click()
    menu = page.locator(".dz-menu")
    expect(menu).to_be_visible()
    page.keyboard.type(words)
    expect(menu.locator("[role=option]").first).to_contain_text(re.compile(words, re.IGNORECASE))
    page.keyboard.press("Enter")


def test_an_abandoned_cart_email_loops_over_the_events_items(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page = api_event_flow(signed_in, "Abandoned cart", "cart.abandoned")
    field(page, "sample").fill(json.dumps(SAMPLE, indent=2))
    shoot(page, screenshot, "event-merge-trigger-sample")

    drag_new(page, "send_email", "root", 0)
    fill_email(
        page, "You left {{ event.items|length }} items", "<p>Hi {{ person.first_name }}, your cart:</p>\n"
    )
    html = field(page, "html")
    html.focus()
    html.press("End")
    html.evaluate("t => t.setSelectionRange(t.value.length, t.value.length)")
    panel(page).locator('[data-name="html"] .dz-tag-btn').click()
    menu = page.locator(".dz-menu")
    expect(menu.locator(".dz-menu-group", has_text="Event")).to_be_visible()
    expect(menu.locator("[role=option]", has_text="First name")).to_have_count(1)
    expect(menu.locator("[role=option]", has_text=re.compile("Firstname|Id$"))).to_have_count(0)
    page.keyboard.type("items")
    shoot(page, screenshot, "event-merge-picker")
    page.keyboard.press("Enter")
    expect(html).to_have_value(
        re.compile(r"\{% for item in event\.items %\}\{\{ item\.name \}\} \{% endfor %\}$")
    )
    field(page, "subject").focus()
    field(page, "subject").press("End")
    field(page, "subject").type(" (")
    pick_tag(page, "subject", "total")
    field(page, "subject").type(" NOK)")
    expect(field(page, "subject")).to_have_value(
        "You left {{ event.items|length }} items ({{ event.total }} NOK)"
    )

    expect(panel(page).locator("[data-preview-subject]")).to_have_text("You left 2 items (63 NOK)")
    preview = page.frame_locator("[data-preview-html]").locator("body")
    expect(preview).to_contain_text("Kettle")
    expect(preview).to_contain_text("Mugs, set of 4")
    expect(panel(page).locator("[data-preview] .dz-problems")).to_have_count(0)
    shoot(page, screenshot, "event-merge-preview")

    flow_id = save(page)
    start(page, flow_id)

    rt = admin_site.runtime
    person = str(rt.crm.person_ids(None, 1)[0])
    shop = {"name": "cart.abandoned", "items": [{"name": "Teapot", "price": 55}], "total": 55}
    rt.emit([Event("api.event", person, shop)])
    [mail] = wait_for(lambda: cart_emails(admin_site), "the cart email")
    assert mail["subject"] == "You left 1 items (55 NOK)"
    assert "Teapot" in mail["html"]
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_preview_that_fails_blocks_start_with_the_reason(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page = api_event_flow(signed_in, "Cart with a bad sample", "cart.checked")
    field(page, "sample").fill('{"items": 3}')
    drag_new(page, "send_email", "root", 0)
    fill_email(
        page,
        "Your cart",
        "<ul>{% for item in event.items %}<li>{{ item.name }}</li>{% endfor %}</ul> {{ event.coupon }}",
    )
    flow_id = save(page)
    expect(page.locator("[data-flash=ok]")).to_contain_text("to fix before it can start")

    refused = start_refused(page)
    expect(refused).to_contain_text("unknown merge tag {{ event.coupon }}")
    shoot(page, screenshot, "event-merge-start-refused")
    assert flows.get(admin_site.runtime, flow_id).status == "draft"

    field(page, "html").fill("<ul>{% for item in event.items %}<li>{{ item.name }}</li>{% endfor %}</ul>")
    save(page)
    page.locator("[data-start]").click()
    page.locator("[data-confirm]").click()
    expect(refused).to_contain_text("the preview fails")
    expect(refused).to_contain_text("a for loop needs a list, but this value is a number")
    assert flows.get(admin_site.runtime, flow_id).status == "draft"
