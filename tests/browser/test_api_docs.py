"""The API docs page in a real browser with no way out to the internet: every other
host is cut off, and Swagger UI still lists the API's operations (its script and
styles come from the app, under the app's content security policy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import Route
from playwright.sync_api import expect

from browser.site import AdminSite

Screenshot = Callable[[Page, str], Path]


def offline(context: BrowserContext, site: AdminSite) -> list[str]:
    """Abort every request to a host other than the app's; returns the list of
    addresses that were asked for (and refused)."""
    own = urlparse(site.url).netloc
    refused: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if urlparse(url).netloc == own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", handle)
    return refused


def test_the_api_docs_list_the_operations_with_no_internet(
    context: BrowserContext, admin_site: AdminSite, screenshot: Screenshot
) -> None:
    refused = offline(context, admin_site)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    statuses: dict[str, int] = {}
    page.on("response", lambda r: statuses.__setitem__(r.url, r.status))

    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("superflow")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 5, "the flows, participants, events and reports operations"
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/flows").first).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/v1/flows").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    screenshot(page, "api-docs-offline")

    assert refused == [], "the page asked another host for something"
    assert failed == [] and problems == [], (failed, problems)
    assert all(status == 200 for status in statuses.values()), statuses
    assert page.evaluate("document.styleSheets.length") >= 1
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.swagger-ui .opblock')).borderRadius")
        != "0px"
    )


def test_the_browser_gets_the_site_icon(context: BrowserContext, admin_site: AdminSite) -> None:
    page = context.new_page()
    page.goto("/login")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    for address in (icon, "/favicon.ico"):
        reply = page.request.get(admin_site.url + address)
        assert reply.status == 200 and reply.headers["content-type"].startswith("image/"), address
