"""Signing in and out of the admin in a real browser, against the real web app and
worker.  The screens are being redesigned: these tests check behaviour (where the
browser ends up, what text it shows), never layout."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import fill_sign_in
from superflow.flow import Flow
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

Screenshot = Callable[[Page, str], Path]
SIGN_OUT = re.compile("sign out", re.IGNORECASE)


def path_of(page: Page, site: AdminSite) -> str:
    assert page.url.startswith(site.url), page.url
    return page.url[len(site.url) :]


def expect_signed_in_as(page: Page, username: str) -> None:
    """The page names the signed-in user (wherever the design puts it)."""
    expect(page.get_by_text(re.compile(rf"\b{re.escape(username)}\b")).first).to_be_visible()


def sign_out_control(page: Page) -> Locator:
    return page.get_by_role("button", name=SIGN_OUT).or_(page.get_by_role("link", name=SIGN_OUT))


@pytest.fixture(scope="module")
def flow(admin_site: AdminSite) -> Flow:
    """A running flow that sends one email to whoever signs up."""
    return started(admin_site.runtime, flow_doc([email_step("hello")], name="Browser test welcome"))


def test_a_wrong_password_shows_the_error_and_stays_on_login(
    page: Page, admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page.goto("/login")
    screenshot(page, "login")
    fill_sign_in(page, "admin", "not-the-password")
    assert path_of(page, admin_site).startswith("/login")
    expect(page.get_by_text("do not match")).to_be_visible()
    expect(sign_out_control(page)).to_have_count(0)


def test_the_right_password_reaches_the_flows_list_and_sign_out_works(
    page: Page, admin_site: AdminSite, screenshot: Screenshot
) -> None:
    page.goto("/login")
    fill_sign_in(page, "admin", admin_site.users["admin"][0])
    assert path_of(page, admin_site) == "/"
    expect_signed_in_as(page, "admin")
    screenshot(page, "flows-list-empty")

    with page.expect_navigation():
        sign_out_control(page).first.click()
    assert path_of(page, admin_site).startswith("/login")
    page.goto("/")
    assert path_of(page, admin_site).startswith("/login"), "signed out: the flows list needs a sign-in again"


@pytest.mark.parametrize("username", ["admin", "editor", "viewer"])
def test_every_role_can_sign_in(
    signed_in: Callable[[str], Page], admin_site: AdminSite, username: str
) -> None:
    page = signed_in(username)
    assert path_of(page, admin_site) == "/"
    expect_signed_in_as(page, username)


def test_a_page_needing_sign_in_comes_back_after_it(page: Page, admin_site: AdminSite, flow: Flow) -> None:
    page.goto(f"/flows/{flow.id}")
    assert path_of(page, admin_site).startswith("/login?next=")
    fill_sign_in(page, "viewer", admin_site.users["viewer"][0])
    assert path_of(page, admin_site) == f"/flows/{flow.id}"
    expect(page.get_by_text(flow.name).first).to_be_visible()


def test_a_post_without_the_csrf_token_is_refused(
    signed_in: Callable[[str], Page], admin_site: AdminSite
) -> None:
    page = signed_in("editor")
    reply = page.request.post(admin_site.url + "/logout")
    assert reply.status == 400
    page.goto("/")
    assert path_of(page, admin_site) == "/", "the refused sign-out left the session alone"
    expect_signed_in_as(page, "editor")


def test_the_worker_runs_a_flow_the_browser_then_shows(
    signed_in: Callable[[str], Page], admin_site: AdminSite, flow: Flow, screenshot: Screenshot
) -> None:
    rt = admin_site.runtime
    signed_up(rt, "1")
    deadline = time.monotonic() + 15
    while (participant := participant_of(rt, flow, "1")) is None or participant.status != "completed":
        assert time.monotonic() < deadline, "the worker did not run the flow within 15 s"
        time.sleep(0.1)

    page = signed_in("admin")
    expect(page.get_by_role("link", name=flow.name).first).to_be_visible()
    screenshot(page, "flows-list")
    page.get_by_role("link", name=flow.name).first.click()
    assert path_of(page, admin_site).startswith(f"/flows/{flow.id}")
    expect(page.get_by_text(flow.name).first).to_be_visible()
    person = rt.crm.get_person("1")
    assert person and person["email"], "the seeded person 1 has an email address"
    page.goto(f"/flows/{flow.id}/participants")
    expect(page.get_by_text(person["email"]).first).to_be_visible()
