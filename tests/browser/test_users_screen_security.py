"""The Users screen's disable, enable and delete, sessions that end, throttled
guessing and a hostile ``next=`` — in a real browser against the real web app."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import fill_sign_in
from browser.site import new_context
from superflow import users

Screenshot = Callable[[Page, str], Path]
PASSWORD = "browser-password-1"


def new_page(browser: Browser, site: AdminSite) -> Page:
    return new_context(browser, site).new_page()


def sign_in(page: Page, username: str, password: str = PASSWORD, path: str = "/login") -> None:
    page.goto(path)
    fill_sign_in(page, username, password)


def on_login(page: Page, site: AdminSite) -> bool:
    return page.url.startswith(site.url + "/login")


def test_an_administrator_disables_enables_and_deletes_a_user(
    signed_in: Callable[[str], Page], browser: Browser, admin_site: AdminSite, screenshot: Screenshot
) -> None:
    users.create(admin_site.runtime.redis, "tove", PASSWORD, "content_editor")
    tove = new_page(browser, admin_site)
    sign_in(tove, "tove")
    assert not on_login(tove, admin_site)

    page = signed_in("admin")
    page.get_by_role("link", name="Users").click()
    own = page.locator("tr[data-user=admin]")
    expect(own.get_by_role("button", name="Disable admin")).to_have_count(0)
    expect(own.get_by_role("link", name="Delete admin")).to_have_count(0)
    row = page.locator("tr[data-user=tove]")
    expect(row.get_by_text("Active")).to_be_visible()
    path = screenshot(page, "users-security")
    shutil.copy(path, "/tmp/users-screen.png")

    row.get_by_role("button", name="Disable tove").click()
    expect(page.get_by_text("tove can no longer sign in")).to_be_visible()
    expect(page.locator("tr[data-user=tove]").get_by_text("Disabled")).to_be_visible()
    screenshot(page, "users-disabled")
    tove.reload()
    assert on_login(tove, admin_site), "a disabled user's open page is signed out at once"
    sign_in(tove, "tove")
    expect(tove.get_by_text("That user name and password do not match.")).to_be_visible()

    page.locator("tr[data-user=tove]").get_by_role("button", name="Enable tove").click()
    expect(page.get_by_text("tove can sign in again")).to_be_visible()

    page.locator("tr[data-user=tove]").get_by_role("link", name="Delete tove").click()
    expect(page.get_by_role("heading", name="Delete tove?")).to_be_visible()
    screenshot(page, "users-delete-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("tr[data-user=tove]")).to_be_visible()
    page.locator("tr[data-user=tove]").get_by_role("link", name="Delete tove").click()
    page.get_by_role("button", name="Delete user").click()
    expect(page.get_by_text("tove was deleted")).to_be_visible()
    expect(page.locator("tr[data-user=tove]")).to_have_count(0)


def test_a_copied_cookie_is_signed_out_with_its_owner(browser: Browser, admin_site: AdminSite) -> None:
    users.create(admin_site.runtime.redis, "ulla", PASSWORD, "viewer")
    owner = new_page(browser, admin_site)
    sign_in(owner, "ulla")
    copy = new_page(browser, admin_site)
    copy.context.add_cookies(owner.context.cookies())
    copy.goto("/")
    assert not on_login(copy, admin_site), "the copy works while its owner is signed in"
    with owner.expect_navigation():
        owner.get_by_role("button", name=re.compile("sign out", re.IGNORECASE)).click()
    copy.goto("/")
    assert on_login(copy, admin_site)


def test_guessing_is_throttled_and_next_stays_on_this_site(browser: Browser, admin_site: AdminSite) -> None:
    users.create(admin_site.runtime.redis, "vilde", PASSWORD, "viewer")
    page = new_page(browser, admin_site)
    sign_in(page, "vilde", path="/login?next=/%09/evil.example/")
    assert page.url == admin_site.url + "/", page.url
    guesser = new_page(browser, admin_site)
    for n in range(5):
        sign_in(guesser, "vilde", f"wrong guess {n}")
    sign_in(guesser, "vilde")
    too_many = re.compile(r"Too many failed sign-ins; try again in \d+ minutes")
    expect(guesser.get_by_text(too_many)).to_be_visible()
    assert on_login(guesser, admin_site)
