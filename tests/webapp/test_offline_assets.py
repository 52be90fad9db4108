"""Nothing from another host: the API docs page and every script, style sheet and
icon it uses come from the app itself (so the docs work offline and under the app's
``default-src 'self'``), no page the admin serves points at an asset elsewhere, and
the browser's ``/favicon.ico`` is answered."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.parse import urlparse

import pytest
import requests

from superflow import forms
from superflow.testing import SignedInSession
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import started

TYPES = {
    ".css": ("text/css",),
    ".js": ("text/javascript", "application/javascript"),
    ".svg": ("image/svg+xml",),
    ".ico": ("image/vnd.microsoft.icon", "image/x-icon"),
}


class Assets(HTMLParser):
    """The addresses a browser loads to show a page: scripts, style sheets, icons,
    images, frames and media (not the links a reader may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and a.get("href") and a.get("rel", "").lower() not in ("canonical", "alternate"):
            self.found.append(a["href"])
        elif tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and a.get("src"):
            self.found.append(a["src"])
        elif tag == "object" and a.get("data"):
            self.found.append(a["data"])


def assets_of(page: str) -> list[str]:
    parser = Assets()
    parser.feed(page)
    return parser.found


def off_host(page_url: str, addresses: list[str]) -> list[str]:
    host = urlparse(page_url).netloc
    return [a for a in addresses if urlparse(urljoin(page_url, a)).netloc != host]


def css_imports(css: str) -> list[str]:
    """What a style sheet pulls in: ``url(...)`` and ``@import``; ``data:`` is inline."""
    found = re.findall(r"""url\(\s*['"]?([^'")\s]+)""", css) + re.findall(r"""@import\s+['"]([^'"]+)""", css)
    return [u for u in found if not u.startswith(("data:", "#"))]


def test_the_api_docs_page_and_everything_it_uses_come_from_the_app(sf_live_server):
    page = requests.get(sf_live_server + "/api/v1/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "http" not in policy, "no other host is let in"
    assert "<script>" not in page.text, "no inline script: the policy would refuse it"
    used = assets_of(page.text)
    assert off_host(page.url, used) == []
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert len(scripts) == 2 and any("swagger-ui-bundle.js" in s for s in scripts)
    assert any(u.endswith("swagger-ui.css") for u in used)
    for address in used:
        served = requests.get(urljoin(page.url, address), timeout=10)
        assert served.status_code == 200, address
        kind = served.headers["Content-Type"].split(";")[0]
        suffix = "." + urlparse(address).path.rsplit(".", 1)[-1]
        assert kind in TYPES[suffix], f"{address} is served as {kind}"
        assert len(served.content) > 100, f"{address} is empty"
        if suffix == ".css":
            assert off_host(served.url, css_imports(served.text)) == []
    bundle = requests.get(urljoin(page.url, scripts[0]), timeout=10).text
    assert "SwaggerUIBundle" in bundle
    init = requests.get(urljoin(page.url, scripts[1]), timeout=5).text
    assert "/api/v1/openapi.json" in init and "validatorUrl: null" in init


def test_only_the_docs_files_are_served_from_the_docs_folder(sf_live_server):
    for name in ("index.html", "..%2Fapi.py", "oauth2-redirect.html", "nothing.js"):
        reply = requests.get(f"{sf_live_server}/api/v1/docs/{name}", timeout=5)
        assert reply.status_code == 404, name


def test_the_browsers_favicon_is_answered(sf_live_server):
    icon = requests.get(sf_live_server + "/favicon.ico", timeout=5)
    assert icon.status_code == 200
    assert icon.headers["Content-Type"] in TYPES[".ico"] and icon.content[:4] == b"\0\0\1\0"
    login = requests.get(sf_live_server + "/login", timeout=5).text
    [linked] = re.findall(r'<link rel="icon" href="([^"]+)"', login)
    svg = requests.get(sf_live_server + linked, timeout=5)
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg+xml")


@pytest.fixture
def pages(sf_runtime, crm, sf_live_server) -> tuple[SignedInSession, list[str], list[str]]:
    """A signed-in admin, the pages a marketer sees, and those anyone sees (a form's
    page for its visitors, the sign-in page, a page that is not there)."""
    flow = started(sf_runtime, flow_doc([email_step("hello")], name="Welcome"))
    form = forms.create(
        sf_runtime.redis,
        {
            "id": "signup",
            "name": "Sign-up",
            "title": "Join us",
            "fields": [
                {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}
            ],
        },
        crm.list_fields(),
    )
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    paths = [
        "/",
        "/flows/new/design",
        f"/flows/{flow.id}",
        f"/flows/{flow.id}/design",
        f"/flows/{flow.id}/content",
        f"/flows/{flow.id}/reports",
        "/outbox",
        "/api/v1/docs",
    ]
    public = ["/login", f"/forms/{form['id']}", "/no-such-page"]
    return admin, paths, public


def test_no_page_points_at_an_asset_on_another_host(sf_live_server, pages):
    admin, paths, public = pages
    seen = 0
    for path, client in [(p, admin) for p in paths] + [(p, requests.Session()) for p in public]:
        page = client.get(sf_live_server + path, timeout=10)
        assert page.headers["Content-Type"].startswith("text/html"), path
        assert page.status_code in (200, 404), path
        used = assets_of(page.text)
        assert used or client is not admin, f"{path} loads nothing? (the parser missed its head)"
        assert off_host(page.url, used) == [], path
        for address in used:
            served = client.get(urljoin(page.url, address), timeout=10)
            assert served.status_code == 200, f"{path} uses {address}, which answers {served.status_code}"
            if address.endswith(".css"):
                assert off_host(served.url, css_imports(served.text)) == [], address
            seen += 1
    assert seen > len(paths)
