"""Looking is not acting, in a real browser: a marketer opens a tracked email in the
Outbox and clicks its link in the preview, which opens the shop in a new tab; the
browser never asks for the open pixel or a tracked link, and the flow counts no open
and no click."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page
from playwright.sync_api import Route
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started

Screenshot = Callable[[Page, str], Path]
OFFER = "https://shop.example/offer?a=1&b=2"
SUBJECT = "Olga, join our webinar"


def sent(site: AdminSite) -> dict:
    outbox = Outbox(site.runtime.config)
    try:
        return next((m for m in outbox.messages("email", limit=200) if m["subject"] == SUBJECT), {})
    finally:
        outbox.close()


def test_viewing_an_email_and_clicking_its_link_in_the_outbox_counts_nothing(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    person = rt.crm.create_person(first_name="Olga", last_name="Outbox", email="olga.outbox@example.com")
    rt.crm.set_consent(person["id"], "emarketing", True)
    body = (
        "<html><body><h1>Webinar</h1><p>Hi {{person.first_name}}, "
        '<a href="https://shop.example/offer?a=1&amp;b=2">sign up</a> today.</p></body></html>'
    )
    flow = started(
        rt,
        flow_doc(
            [
                email_step("invite", subject=SUBJECT, html=body),
                {"id": "pause", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
            ],
            name="Outbox preview",
        ),
    )
    signed_up(rt, str(person["id"]))
    message = wait_for(lambda: sent(admin_site), "the invitation in the outbox")
    assert "/t/o/" in message["html"] and "/t/c/" in message["html"], "the email as sent is tracked"

    page = signed_in("admin")
    own = urlparse(admin_site.url).netloc
    tracking: list[str] = []
    page.context.on(
        "request", lambda r: tracking.append(r.url) if urlparse(r.url).path.startswith("/t/") else None
    )

    def shop(route: Route) -> None:
        if urlparse(route.request.url).netloc == own:
            route.continue_()
        else:
            route.fulfill(status=200, content_type="text/html", body="<p>The shop's offer page</p>")

    page.context.route("**/*", shop)
    page.goto("/outbox")
    page.get_by_role("link", name=SUBJECT).first.click()
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible()
    frame = page.frame_locator("iframe")
    link = frame.get_by_role("link", name="sign up")
    expect(link).to_be_visible()
    page.wait_for_load_state("load")
    screenshot(page, "outbox-message-untracked")
    assert tracking == [], "showing the email loaded its open pixel"
    assert link.get_attribute("href") == OFFER, "the preview's link goes where the email's does"

    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    expect(tab.get_by_text("The shop's offer page")).to_be_visible()
    assert tab.url == OFFER, "straight to the shop, not through the tracked address"
    tab.close()
    assert tracking == [], "clicking the link went through the tracked address"
    stats = rt.store.stats(flow.id)
    for counter in ("email.opened", "email.opened.unique", "link.clicked", "link.clicked.unique"):
        assert stats.get(counter, 0) == 0, counter
