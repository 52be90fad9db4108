"""superflow inside a CRM's frame, in Chromium: a page of another site (the "CRM", on
https://localhost) frames the person panel of superflow (on https://127.0.0.1) in a
400 px wide iframe, as a SuperOffice web panel does.  With the CRM's origin in
``SUPERFLOW_EMBED_ORIGINS`` the marketer signs in, adds the person to a flow and
removes them again, all inside the frame, while a real worker process does the
enrolment; without it the browser refuses to show superflow in the frame at all.  Signing
in with an identity provider from the frame opens the provider in a pop-up (the test's real
OpenID Connect provider, tests/oidc_provider.py) and signs the frame itself in."""

from __future__ import annotations

import html
import subprocess
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import quote

import pytest
from oidc_provider import CLIENT_ID
from oidc_provider import CLIENT_SECRET
from oidc_provider import IdentityProvider
from playwright.sync_api import Browser
from playwright.sync_api import BrowserContext
from playwright.sync_api import Frame
from playwright.sync_api import FrameLocator
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import TIMEOUT_MS
from browser.site import child_env
from browser.site import wait_for
from superflow import keys
from superflow import users
from superflow.config import checked_roles
from superflow.processes import SUPERFLOW
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime
from superflow.testing import LiveServer
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import started
from superflow.webapp import create_app

SHOTS = Path("/tmp/shots/panels")
FRAME_SHOTS = Path("/tmp/shots/frame")
PASSWORD = "panel-password-1"
WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def crm_page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The "CRM": a person card that frames ``?panel=<url>`` at ``?width=<px>``."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    panel = html.escape(query.get("panel", [""])[0], quote=True)
    width = int(query.get("width", ["400"])[0])
    body = (
        "<!doctype html><html><head><title>CRM person card</title></head>"
        "<body style='font-family:sans-serif;margin:16px'>"
        "<h1 style='font-size:18px'>Contact card: Anna Berg</h1>"
        f"<iframe id='panel' name='panel' src='{panel}'"
        f" style='width:{width}px;height:820px;border:1px solid #888'>"
        "</iframe></body></html>"
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


@pytest.fixture
def crm_site() -> Iterator[str]:
    """The CRM's page on https://localhost:<port>: another origin and another site than
    superflow's https://127.0.0.1:<port>."""
    with LiveServer(crm_page, https=True) as url:
        yield url.replace("https://127.0.0.1:", "https://localhost:")


@dataclass
class Superflow:
    url: str
    runtime: Runtime
    anna: str
    company: str
    selection: str


def _seeded(rt: Runtime) -> tuple[str, str, str]:
    company = rt.crm.create_company(name="Berg Consulting AS")
    anna = rt.crm.create_person(
        first_name="Anna", last_name="Berg", email="anna@berg-consulting.test", company_id=company["id"]
    )
    per = rt.crm.create_person(
        first_name="Per", last_name="Berg", email="per@berg-consulting.test", company_id=company["id"]
    )
    for person in (anna, per):
        rt.crm.set_consent(person["id"], "emarketing", True)
    fair = rt.crm.create_selection("Autumn fair 2026")
    rt.crm.add_to_selection(fair["id"], [anna["id"], per["id"]])
    users.create(rt.redis, "marit", PASSWORD, "flow_admin")
    return str(anna["id"]), str(company["id"]), str(fair["id"])


@pytest.fixture
def superflow_for(sf_plugin, tmp_path) -> Iterator[Callable[[tuple[str, ...]], Superflow]]:
    """``superflow_for(origins)``: superflow over HTTPS with those CRM origins allowed to
    frame it, a seeded local CRM, a running flow and a real worker process."""
    servers: list[LiveServer] = []
    workers: list[subprocess.Popen[bytes]] = []

    def start(origins: tuple[str, ...]) -> Superflow:
        rt = sf_plugin(embed_origins=origins)
        anna, company, selection = _seeded(rt)
        server = LiveServer(create_app(runtime=rt), https=True)
        servers.append(server)
        url = server.__enter__()
        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed with the process
        workers.append(
            spawn([*SUPERFLOW, "worker"], env=child_env(rt.config), stdout=log, stderr=subprocess.STDOUT)
        )
        log.close()
        from rq import Worker

        wait_for(lambda: Worker.count(connection=rt.rq_redis) > 0, "the worker to start", seconds=30)
        return Superflow(url, rt, anna, company, selection)

    yield start
    for worker in workers:
        stop(worker)
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def crm_browser(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile that accepts the run's self-made certificates."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 900, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def framing(page: Page, crm: str, panel_url: str, width: int = 400) -> FrameLocator:
    page.goto(f"{crm}/?width={width}&panel={quote(panel_url, safe='')}")
    return page.frame_locator("#panel")


def panel_frame(page: Page) -> Frame:
    frame = page.frame(name="panel")
    assert frame is not None, "the CRM page has its frame"
    return frame


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#panel").screenshot(path=str(SHOTS / f"{name}.png"))


def fits(frame: Frame) -> bool:
    """No horizontal scrolling inside the frame."""
    return frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_crm_frames_the_person_panel_and_the_marketer_acts_in_it(superflow_for, crm_site, crm_browser):
    sf = superflow_for((crm_site,))
    rt = sf.runtime
    welcome = started(
        rt, flow_doc([dict(email_step("hello"), name="Welcome email"), WAIT], name="Welcome series")
    )
    page = crm_browser.new_page()
    panel = framing(page, crm_site, f"{sf.url}/panels/person?id={sf.anna}")

    expect(panel.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "sign-in-400")
    assert fits(panel_frame(page)), "the sign-in page fits the 400 px frame"
    panel.get_by_label("User name").fill("marit")
    panel.get_by_label("Password").fill(PASSWORD)
    panel.get_by_label("Password").press("Enter")

    expect(panel.get_by_role("heading", name="Anna Berg")).to_be_visible()
    expect(panel.locator("#flows")).to_contain_text("Not in any flow yet.")
    open_full = panel.get_by_role("link", name="Open in superflow")
    expect(open_full).to_have_attribute("target", "_blank")
    expect(open_full).to_have_attribute("href", f"/people/{sf.anna}")
    shot(page, "person-400")

    panel.get_by_label("Flow").select_option(label="Welcome series")
    panel.get_by_role("button", name="Add Anna to this flow").click()
    expect(panel.get_by_role("status")).to_have_text("Anna Berg is now in Welcome series.", timeout=20_000)
    assert participant_of(rt, welcome, sf.anna).status == "active"
    card = panel.locator("#flows .card", has_text="Welcome series")
    expect(card).to_contain_text("Active")
    wait_for(lambda: participant_of(rt, welcome, sf.anna).last_sending, "the welcome email to be sent", 20)
    page.reload()
    expect(card).to_contain_text("Last sent Step 1 'Welcome email' · Sent", use_inner_text=True)
    shot(page, "person-in-flow-400")
    frame = panel_frame(page)
    assert fits(frame), "the person panel fits the 400 px frame"
    for button in (
        panel.get_by_role("link", name="Remove from this flow"),
        panel.get_by_role("button", name="Add"),
    ):
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 400 + 16 + 2, "the button is inside the frame"

    card.get_by_role("link", name="Remove from this flow").click()
    expect(panel.get_by_role("heading", name="Remove Anna Berg from Welcome series?")).to_be_visible()
    shot(page, "remove-confirm-400")
    assert participant_of(rt, welcome, sf.anna).status == "active", "asking removes nobody"
    panel.get_by_role("button", name="Remove from Welcome series").click()
    expect(panel.get_by_role("status")).to_have_text(
        "Anna Berg was removed from Welcome series. Their history is kept."
    )
    expect(card).to_contain_text("Cancelled")
    assert participant_of(rt, welcome, sf.anna).status == "cancelled"

    page.evaluate("document.getElementById('panel').style.width = '320px'")
    page.wait_for_function("document.getElementById('panel').getBoundingClientRect().width <= 322")
    assert fits(frame), "the person panel still fits at 320 px"
    shot(page, "person-320")


def test_the_company_and_selection_panels_in_the_frame(superflow_for, crm_site, crm_browser):
    sf = superflow_for((crm_site,))
    started(sf.runtime, flow_doc([email_step("hello"), WAIT], name="Autumn follow-up"))
    page = crm_browser.new_page()
    panel = framing(page, crm_site, f"{sf.url}/panels/company?id={sf.company}")
    panel.get_by_label("User name").fill("marit")
    panel.get_by_label("Password").fill(PASSWORD)
    panel.get_by_label("Password").press("Enter")
    expect(panel.get_by_role("heading", name="Berg Consulting AS")).to_be_visible()
    expect(panel.locator("#persons .card")).to_have_count(2)
    assert fits(panel_frame(page))
    shot(page, "company-400")

    panel = framing(page, crm_site, f"{sf.url}/panels/selection?id={sf.selection}")
    expect(panel.get_by_role("heading", name="Autumn fair 2026")).to_be_visible()
    panel.get_by_role("button", name="Add its 2 people").click()
    expect(panel.get_by_role("status")).to_contain_text(
        "2 people of Autumn fair 2026 queued for Autumn follow-up."
    )
    wait_for(
        lambda: sf.runtime.store.stats(sf.runtime.store.flow_ids()[0]).get("enrolled") == 2, "both enrolled"
    )
    page.reload()
    expect(panel.locator("#in-flows")).to_contain_text("2 of its people have taken part")
    assert fits(panel_frame(page))
    shot(page, "selection-400")

    panel = framing(page, crm_site, f"{sf.url}/panels/person?id=777777")
    expect(panel.locator("#cause")).to_have_text("No person with id 777777 in the CRM.")
    assert fits(panel_frame(page))
    shot(page, "unknown-person-400")


def test_without_the_allow_list_the_browser_refuses_to_frame_superflow(superflow_for, crm_site, crm_browser):
    sf = superflow_for(())
    page = crm_browser.new_page()
    framing(page, crm_site, f"{sf.url}/panels/person?id={sf.anna}")
    frame = panel_frame(page)
    wait_for(lambda: frame.url.startswith("chrome-error://"), "the browser to refuse the frame")
    assert "Sign in" not in frame.content() and "superflow" not in frame.content()
    shot(page, "refused-400")
    direct = crm_browser.new_page()
    direct.goto(f"{sf.url}/panels/person?id={sf.anna}")
    expect(direct.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityProvider]:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture
def provider_superflow(sf_plugin, crm_site, idp) -> Iterator[Superflow]:
    """superflow over HTTPS that the CRM may frame, signing in with ``idp`` only."""
    app: list[Any] = []
    server = LiveServer(lambda environ, start: app[0](environ, start), https=True)
    rt = sf_plugin(
        base_url=server.url,
        embed_origins=(crm_site,),
        oidc_issuer=idp.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_label="Sign in with Example ID",
        oidc_roles=checked_roles("SUPERFLOW_OIDC_ROLES", "Marketing admins=flow_admin"),
        password_signin=False,
    )
    anna, company, selection = _seeded(rt)
    app.append(create_app(runtime=rt))
    idp.client.redirect_uris = [f"{server.url}/login/oidc/callback"]
    with server as url:
        yield Superflow(url, rt, anna, company, selection)


def frame_shot(page: Page, name: str) -> None:
    FRAME_SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#panel").screenshot(path=str(FRAME_SHOTS / f"{name}.png"))


def test_signing_in_with_the_provider_from_the_frame_signs_the_frame_in(
    provider_superflow, crm_site, crm_browser, idp
):
    sf = provider_superflow
    idp.person("marit", groups=["Marketing admins"], name="Marit Dahl")
    idp.person("sales", groups=["Sales"])
    page = crm_browser.new_page()
    panel = framing(page, crm_site, f"{sf.url}/panels/person?id={sf.anna}")
    button = panel.get_by_role("link", name="Sign in with Example ID")
    expect(button).to_be_visible()
    frame_shot(page, "sign-in")

    with page.expect_popup() as opened:
        button.click()
    popup = opened.value
    expect(popup.get_by_role("heading", name="Test identity provider")).to_be_visible()
    assert popup.url.startswith(idp.issuer)
    assert page.url.startswith(crm_site), "the CRM stays where it was"
    popup.get_by_label("Account").fill("sales")
    popup.get_by_role("button", name="Sign in and allow").click()
    expect(popup.get_by_role("alert")).to_contain_text("Your account has no superflow role")
    popup.get_by_role("link", name="Sign in with Example ID").click()
    popup.get_by_label("Account").fill("marit")
    popup.get_by_role("button", name="Sign in and allow").click()
    popup.wait_for_event("close")

    expect(panel.get_by_role("heading", name="Anna Berg")).to_be_visible()
    expect(panel.locator("#flows")).to_contain_text("Not in any flow yet.")
    expect(panel.locator(".panel-foot")).to_contain_text("Marit Dahl")
    assert page.url.startswith(crm_site), "the CRM stays where it was"
    frame_shot(page, "signed-in")
    assert sf.runtime.redis.keys(keys.signin_handoff("*")) == [], "the code was taken"


def test_a_blocked_pop_up_says_what_to_do_in_the_frame(provider_superflow, crm_site, crm_browser):
    sf = provider_superflow
    page = crm_browser.new_page()
    panel = framing(page, crm_site, f"{sf.url}/panels/person?id={sf.anna}")
    expect(panel.get_by_role("link", name="Sign in with Example ID")).to_be_visible()
    panel_frame(page).evaluate("window.open = function () { return null; }")

    panel.get_by_role("link", name="Sign in with Example ID").click()

    blocked = panel.get_by_role("alert")
    expect(blocked).to_have_text("Allow pop-ups for this site, or open superflow in its own tab.")
    expect(blocked.get_by_role("link", name="open superflow in its own tab")).to_have_attribute(
        "target", "_blank"
    )
    assert page.url.startswith(crm_site), "the CRM stays where it was"
    frame_shot(page, "pop-up-blocked")
