"""The marketer's email in a real browser: a newsletter built from a starter template
with an uploaded image and a button, saved to the content library, reused by a second
flow's email step, sent through a real SMTP server to an enrolled person — its HTML
parses, its links are tracked and lead to the button's address, its image is the
hosted one."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from browser.site import AdminSite
from browser.site import wait_for
from superflow import flows
from superflow.testing.flows import flow_doc
from superflow.testing.flows import signed_up
from superflow.testing.smtp import Inbox

Screenshot = Callable[[Page, str], Path]
WIDE = {"width": 1560, "height": 1000}
SENDER_ADDRESS = "Nordlys Marketing AS, Storgata 1, 0155 Oslo"
BUTTON_URL = "https://shop.example.com/spring"
SHOTS = Path("/tmp/shots/email")


def png(width: int, height: int) -> bytes:
    """A real PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x2f\x5b\xea" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) for the whole module: the site's worker sends to it."""
    from aiosmtpd.controller import Controller

    from superflow.processes import free_port

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def site_settings(smtp: tuple[Inbox, int]) -> dict[str, str]:
    return {
        "SUPERFLOW_EMAIL_TRANSPORT": "smtp",
        "SUPERFLOW_SMTP_HOST": "127.0.0.1",
        "SUPERFLOW_SMTP_PORT": str(smtp[1]),
        "SUPERFLOW_SENDER_ADDRESS": SENDER_ADDRESS,
    }


def shoot(page: Page, screenshot: Screenshot, name: str) -> None:
    """A full-page screenshot (Chromium paints an iframe only inside the viewport),
    kept in build/screenshots and /tmp/shots/email."""
    page.evaluate("window.scrollTo(0, 0)")
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": WIDE["width"], "height": max(WIDE["height"], height)})
    try:
        path = screenshot(page, f"email-{name}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{name}.png").write_bytes(path.read_bytes())
    finally:
        page.set_viewport_size(WIDE)


def shoot_element(element: Locator, name: str) -> None:
    """A screenshot of one element (a dialog sits in the middle of the viewport)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    element.screenshot(path=str(SHOTS / f"{name}.png"))


def watched(page: Page) -> Page:
    page.set_viewport_size(WIDE)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.js_errors = problems  # type: ignore[attr-defined]
    return page


def panel(page: Page) -> Locator:
    return page.locator("[data-panel-root]")


def email_step_flow(site: AdminSite, name: str) -> str:
    """A draft flow with one email step that has its sender and subject but no body yet."""
    doc = flow_doc(
        [
            {
                "id": "email-1",
                "type": "send_email",
                "settings": {
                    "from_name": "Nordlys News",
                    "from_address": "news@superflow.test",
                    "subject": "Spring news for {{ person.first_name }}",
                    "body": "design",
                },
            }
        ],
        name=name,
    )
    return flows.create(site.runtime, doc).id


def open_step(page: Page, flow_id: str) -> None:
    page.goto(f"/flows/{flow_id}/design")
    expect(page.locator("[data-canvas] .dz-chart")).to_be_visible()
    page.locator('[data-step-id="email-1"]').click()
    expect(panel(page).locator('[data-name="body"]')).to_be_visible()


def save_flow(page: Page) -> None:
    page.locator("[data-save]").click()
    expect(page.locator("[data-flash=ok]")).to_contain_text(re.compile(r"Saved as version \d+"))


def start_flow(page: Page, flow_id: str) -> None:
    page.locator("[data-start]").click()
    dialog = page.locator("dialog.dz-dialog")
    expect(dialog).to_contain_text("Start")
    with page.expect_navigation():
        dialog.locator("[data-confirm]").click()
    expect(page).to_have_url(re.compile(rf"/flows/{flow_id}$"))


class Links(HTMLParser):
    """The links and images of an HTML body."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")


def test_a_newsletter_from_a_template_is_saved_to_the_library_reused_and_received(
    signed_in: Callable[[str], Page],
    admin_site: AdminSite,
    smtp: tuple[Inbox, int],
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    inbox, _ = smtp
    first = email_step_flow(admin_site, "Spring campaign")
    second = email_step_flow(admin_site, "Spring follow-up")
    page = watched(signed_in("admin"))

    # Flow 1: a new email opens at the templates.
    open_step(page, first)
    picker = panel(page).locator("[data-template-picker]")
    expect(picker.locator("[data-starter]")).to_have_count(5)
    shoot(page, screenshot, "template-picker")
    picker.locator('[data-starter="newsletter"]').click()
    design = panel(page).locator("[data-email-design]")
    expect(design.locator("[data-blocks=email] > [data-block]")).to_have_count(8)
    expect(design.locator('[data-block="footer"]')).to_have_count(1)

    # An image uploaded in the browser into the template's image block.
    image = tmp_path / "spring.png"
    image.write_bytes(png(120, 60))
    design.locator('[data-block="image"]').first.locator("[data-choose-image]").click()
    dialog = page.locator("dialog.sf-image-dialog")
    expect(dialog).to_be_visible()
    shoot_element(dialog, "image-library-empty")
    dialog.locator("[data-image-upload]").set_input_files(str(image))
    expect(dialog).to_have_count(0)
    shown = design.locator('[data-block="image"] img.sf-image-shown').first
    expect(shown).to_have_attribute("src", re.compile(r"/images/[0-9a-f]{32}\.png$"))
    hosted = shown.get_attribute("src") or ""

    # The picture is in the image library now, to pick again.
    design.locator('[data-block="image"]').first.locator("[data-choose-image]").click()
    listed = dialog.locator("[data-image-file]")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("spring.png")
    expect(listed.first).to_contain_text("120×60")
    shoot_element(dialog, "image-library")
    listed.first.click()
    expect(dialog).to_have_count(0)
    expect(shown).to_have_attribute("src", hosted)

    # A button of its own, with the address asked and checked.
    design.locator('.sf-add[aria-label="Add a block"] [data-add-block="button"]').click()
    button = design.locator('[data-block="button"]').nth(1)
    button.locator("[data-button-label]").fill("Shop the spring sale")
    button.locator("[data-button-url]").fill("javascript:alert(1)")
    expect(button.locator("[role=alert]").first).to_contain_text("must start with https://")
    button.locator("[data-button-url]").fill(BUTTON_URL)
    expect(button.locator("[role=alert]").first).to_have_text("")
    expect(button).to_contain_text("tracked")

    # A link in a text block: the dialog asks the address and shows it is tracked.
    text = design.locator("[data-block-text]").nth(1)
    text.click()
    page.keyboard.press("End")
    text.locator("xpath=..").locator('button[aria-label="Link"]').click()
    link_dialog = page.locator("dialog.sf-dialog")
    link_dialog.locator("[data-link-url]").fill("www.example.com")
    link_dialog.locator("[data-dialog-ok]").click()
    expect(link_dialog.locator("[data-dialog-error]")).to_contain_text("start it with https://")
    link_dialog.locator("[data-link-url]").fill("https://example.com/story")
    expect(link_dialog.locator("[data-link-state]")).to_contain_text("are tracked")
    shoot_element(link_dialog, "link-dialog")
    link_dialog.locator("[data-dialog-ok]").click()
    expect(text.locator('a[href="https://example.com/story"]')).to_have_count(1)

    # The designer's preview shows the email for a person, footer and address included.
    preview = page.frame_locator("[data-preview-html]").locator("body")
    expect(preview).to_contain_text("Shop the spring sale")
    expect(preview).to_contain_text(SENDER_ADDRESS)
    expect(preview).to_contain_text("Unsubscribe")
    shoot(page, screenshot, "editor")

    # Saved as library content, which the step now uses (linked).
    page.once("dialog", lambda d: d.accept("Spring newsletter"))
    design.locator("[data-save-to-library]").click()
    select = panel(page).locator("[data-library-select]")
    expect(select.locator("option:checked")).to_have_text("Spring newsletter")
    save_flow(page)
    assert page.js_errors == []  # type: ignore[attr-defined]

    # The library lists it, used by the first flow.
    page.goto("/email/library")
    row = page.locator("[data-library-email]", has_text="Spring newsletter")
    expect(row).to_contain_text("Spring campaign")
    shoot(page, screenshot, "library")

    # Flow 2 selects the same library email, starts, and a person gets it by SMTP.
    open_step(page, second)
    panel(page).locator('[data-body-kind="library"]').check()
    select = panel(page).locator("[data-library-select]")
    expect(select.locator("option", has_text="Spring newsletter")).to_have_count(1)
    select.select_option(label="Spring newsletter")
    expect(panel(page).locator('[data-name="library_email"]')).to_contain_text("Linked")
    expect(preview).to_contain_text("Shop the spring sale")
    save_flow(page)
    start_flow(page, second)

    # Flow content lists the mailing with where it comes from.
    page.goto(f"/flows/{second}/content")
    expect(page.locator("main")).to_contain_text("library email 'Spring newsletter' (linked")
    shoot(page, screenshot, "flow-content")

    rt = admin_site.runtime
    person_id = str(rt.crm.person_ids(None, 1)[0])
    person = rt.crm.get_person(person_id)
    signed_up(rt, person_id)
    [message] = wait_for(
        lambda: [m for m in inbox.messages if m["To"] == person["email"]], "the email by SMTP"
    )
    assert message["Subject"] == f"Spring news for {person['first_name']}"
    html = message.get_body(("html",)).get_content()
    found = Links()
    found.feed(html)
    found.close()
    tracked = [href for href in found.hrefs if "/t/c/" in href]
    assert tracked and all(href.startswith(admin_site.url + "/t/c/") for href in tracked)
    assert not [h for h in found.hrefs if h.startswith("https://") and "/t/c/" not in h and "/u/" not in h]
    [unsubscribe] = [href for href in found.hrefs if href.startswith(admin_site.url + "/u/")]
    assert SENDER_ADDRESS in html
    destinations = []
    for href in tracked:
        answer = requests.get(href, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), href
        destinations.append(answer.headers["Location"])
    assert BUTTON_URL in destinations and "https://example.com/story" in destinations
    assert requests.get(unsubscribe, timeout=10).status_code == 200
    assert hosted in found.images
    picture = requests.get(hosted, timeout=10)
    assert picture.status_code == 200
    assert picture.headers["Content-Type"] == "image/png"
    assert picture.content == image.read_bytes()
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_viewer_sees_the_library_but_cannot_change_it(
    signed_in: Callable[[str], Page], admin_site: AdminSite, screenshot: Screenshot
) -> None:
    editor = watched(signed_in("editor"))
    editor.goto("/email/library")
    editor.locator("#new-name").fill("Welcome letter")
    editor.locator('[data-starter="welcome"]').click()
    expect(editor.locator(".page-head h1")).to_have_text("Welcome letter")
    expect(editor.frame_locator("[data-email-preview]").locator("body")).to_contain_text("Get started")
    expect(editor.locator("[data-email-problems]")).to_have_text("")
    editor.locator('[data-block="footer"] [data-footer-address]').fill("")
    remove = editor.locator('[data-block="footer"] button[aria-label^="Remove"]')
    remove.click()
    expect(editor.locator("[data-email-problems]")).to_contain_text("needs a footer block")
    editor.locator('.sf-add[aria-label="Add a block"] [data-add-block="footer"]').click()
    expect(editor.locator("[data-email-problems]")).to_have_text("")
    editor.locator("[data-save-email]").click()
    expect(editor.locator("[data-save-status]")).to_have_text("Saved.")
    shoot(editor, screenshot, "library-editor")
    assert editor.js_errors == []  # type: ignore[attr-defined]

    viewer = watched(signed_in("viewer"))
    viewer.goto("/email/library")
    expect(viewer.locator("[data-library-email]", has_text="Welcome letter")).to_be_visible()
    expect(viewer.locator("[data-new-email]")).to_have_count(0)
    viewer.locator("a", has_text="Welcome letter").click()
    expect(viewer.frame_locator("[data-email-preview]").locator("body")).to_contain_text("Get started")
    expect(viewer.locator("[data-blocks=email] > [data-block]")).to_have_count(5)
    expect(viewer.locator("[data-save-email]")).to_have_count(0)
    expect(viewer.locator("[contenteditable=true]")).to_have_count(0)
    expect(viewer.locator("[data-add-block]")).to_have_count(0)
    shoot(viewer, screenshot, "library-viewer")
    assert viewer.js_errors == []  # type: ignore[attr-defined]
