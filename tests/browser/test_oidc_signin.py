"""Signing in through an OpenID Connect provider in Chromium: the sign-in page's provider
button, the provider's own form (the tests' real provider, tests/oidc_provider.py), back in
superflow signed in, and the Users screen saying how each user signs in and why they have
their role.  Screenshots go to /tmp/shots/oidc/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from oidc_provider import CLIENT_ID
from oidc_provider import CLIENT_SECRET
from oidc_provider import IdentityProvider
from oidc_provider import Site
from oidc_provider import sign_in_through
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from superflow import users
from superflow.config import checked_roles

SHOTS = Path("/tmp/shots/oidc")


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityProvider]:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture
def site(idp: IdentityProvider, sf_plugin: Any) -> Iterator[Site]:
    def runtime(url: str) -> Any:
        return sf_plugin(
            base_url=url,
            oidc_issuer=idp.issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_label="Sign in with Example ID",
            oidc_roles=checked_roles(
                "SUPERFLOW_OIDC_ROLES", "Marketing admins=flow_admin; Content team=content_editor"
            ),
        )

    with Site(runtime) as running:
        idp.client.redirect_uris = [f"{running.url}/login/oidc/callback"]
        yield running


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def through_provider(page: Page, site: Site, account: str) -> None:
    page.goto(f"{site.url}/login")
    page.get_by_role("link", name="Sign in with Example ID").click()
    page.get_by_label("Account").fill(account)
    page.get_by_role("button", name="Sign in and allow").click()


def test_signing_in_with_the_provider_in_the_browser_and_the_users_screen_says_why(
    browser: Browser, idp: IdentityProvider, site: Site
) -> None:
    idp.person("ada", groups=["Marketing admins"], name="Ada Lovelace")
    users.create(site.runtime.redis, "editor", "correct horse battery", "content_editor")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()

    page.goto(f"{site.url}/login")
    expect(page.get_by_role("link", name="Sign in with Example ID")).to_be_visible()
    # Outside a frame the button is a plain link at the top of the window (signin.js opens a
    # pop-up only inside a CRM's frame: tests/browser/test_crm_panels.py).
    expect(page.get_by_role("link", name="Sign in with Example ID")).to_have_attribute("target", "_top")
    expect(page.get_by_label("Password")).to_be_visible()
    shot(page, "login")

    through_provider(page, site, "ada")
    page.wait_for_url(f"{site.url}/")
    expect(page.get_by_text("Ada Lovelace").first).to_be_visible()
    shot(page, "signed-in")

    page.goto(f"{site.url}/users")
    row = page.locator(f'tr[data-user="{users.provider_user_name("oidc", "sub-ada")}"]')
    expect(row).to_contain_text("Ada Lovelace")
    expect(row).to_contain_text("from Example ID: group 'Marketing admins' → Flow administrator")
    expect(row).to_contain_text("last signed in")
    expect(row.get_by_role("combobox")).to_have_count(0)
    expect(page.locator('tr[data-user="editor"]')).to_contain_text("Password")
    shot(page, "users")

    idp.person("bo", groups=["Content team"], name="Bo Berg")
    sign_in_through(idp, requests.Session(), site.url, "bo")
    page.goto(f"{site.url}/users/{users.provider_user_name('oidc', 'sub-bo')}/delete")
    expect(page.get_by_text("Bo Berg signs in with Example ID")).to_be_visible()
    shot(page, "delete-provider-user")
    context.close()


def test_a_person_without_a_role_sees_why_in_the_browser(
    browser: Browser, idp: IdentityProvider, site: Site
) -> None:
    idp.person("dan", groups=["Sales"])
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()

    through_provider(page, site, "dan")

    expect(page.get_by_role("alert")).to_contain_text("Your account has no superflow role")
    shot(page, "refused")
    context.close()
