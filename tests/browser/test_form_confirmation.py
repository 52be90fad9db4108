"""A hosted form in a real browser: a visitor using the address of a person the CRM
already has sees "check your inbox", nothing changes, and the emailed link's page
applies the answer only when its Confirm button is pressed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import forms
from superflow.plugins.outbox import Outbox

Screenshot = Callable[[Page, str], Path]
FORM = {
    "id": "newsletter-browser",
    "name": "Newsletter sign-up",
    "title": "Get our monthly newsletter",
    "description": "Tips, product news and invitations. Unsubscribe at any time.",
    "fields": [
        {"name": "email", "label": "Email address", "type": "email", "required": True, "maps_to": "email"},
        {"name": "first_name", "label": "First name", "maps_to": "first_name"},
        {"name": "marketing", "label": "Yes, send me offers too", "type": "checkbox", "grants": "emarketing"},
    ],
    "subscriptions": ["newsletter-browser"],
    "success_message": "Welcome aboard! The next issue comes on the first Monday of the month.",
}


def confirmation_link(site: AdminSite, address: str) -> str:
    outbox = Outbox(site.runtime.config)
    try:

        def found() -> str:
            for m in outbox.messages("email", limit=50):
                match = re.search(r"https?://\S+/confirm/\S+", m["text"])
                if m["recipient"] == address and match:
                    return match.group(0)
            return ""

        return wait_for(found, f"the confirmation email to {address}")
    finally:
        outbox.close()


def test_a_known_address_is_confirmed_through_the_emailed_link(
    admin_site: AdminSite, page: Page, screenshot: Screenshot
):
    rt = admin_site.runtime
    forms.create(rt.redis, FORM, rt.crm.list_fields())
    person = rt.crm.create_person(first_name="Ingrid", last_name="Berg", email="ingrid.berg@example.com")

    page.goto(f"/forms/{FORM['id']}")
    page.get_by_label("Email address").fill("ingrid.berg@example.com")
    page.get_by_label("First name").fill("Inga")
    page.get_by_label("Yes, send me offers too").check()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#check-inbox")).to_have_text("Thanks — check your inbox to confirm.")
    screenshot(page, "form-check-inbox")
    assert rt.crm.get_person(person["id"])["first_name"] == "Ingrid"

    page.goto(confirmation_link(admin_site, "ingrid.berg@example.com"))
    expect(page.get_by_role("heading", name="Confirm your answer")).to_be_visible()
    expect(page.locator("dl.answer")).to_contain_text("Inga")
    screenshot(page, "form-confirm-ask")
    assert rt.crm.get_person(person["id"])["first_name"] == "Ingrid"

    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Thank you — your answer is confirmed")).to_be_visible()
    expect(page.get_by_text(FORM["success_message"])).to_be_visible()
    screenshot(page, "form-confirmed")
    changed = rt.crm.get_person(person["id"])
    assert changed["first_name"] == "Inga" and changed["consents"]["emarketing"] is True
    assert changed["subscriptions"]["newsletter-browser"] is True

    page.go_back()
    page.reload()
    expect(page.get_by_role("heading", name="Your answer is already confirmed")).to_be_visible()
    screenshot(page, "form-already-confirmed")

    page.goto(f"/forms/{FORM['id']}/confirm/not-a-real-link")
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    expect(page.get_by_role("link", name="fill in the form again")).to_have_attribute(
        "href", f"/forms/{FORM['id']}"
    )
    screenshot(page, "form-link-invalid")
