"""Looking is not acting: a marketer who opens a sent email in the admin's Outbox and
clicks its links (in the preview or in a new tab, signed in) records no open and no
click for the recipient, and the recipient's split outcome stays theirs; the
recipient's own open and click still count.  Over real HTTP, as a browser would."""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

import requests
from tracked_links import ABOUT
from tracked_links import OFFER
from tracked_links import invite

from superflow import keys
from superflow import tracking
from superflow.plugins.outbox import Outbox
from superflow.testing import SignedInSession
from superflow.testing import email_action_branch
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import split_step
from superflow.testing import started
from superflow.webapp.public.tracking import for_viewing

APP = "superflow.test"  # the app's public address in the test configuration


def newsletter() -> dict:
    """An email with two links, a day's wait, then a split on what the reader did."""
    steps = [
        invite(text="Hi {{person.first_name}}, sign up at https://shop.example/offer?a=1&b=2"),
        {"id": "pause", "type": "wait", "settings": {"amount": 1}},
        split_step(
            "split",
            [
                email_action_branch(
                    "Clicked",
                    "link.clicked",
                    "invite",
                    [email_step("thanks", subject="Thanks for signing up")],
                ),
                email_action_branch(
                    "Opened",
                    "email.opened",
                    "invite",
                    [email_step("reminder", subject="Still time to sign up")],
                ),
            ],
            everyone_else=[email_step("nudge", subject="Did you see it?")],
        ),
    ]
    return flow_doc(steps, name="Webinar")


def on_app(address: str, base: str) -> str | None:
    """Where a browser on the admin would fetch ``address`` if it is the app's own
    (absolute on the app's public host, or relative), else ``None``."""
    parsed = urlparse(address)
    if parsed.scheme in ("http", "https") and parsed.hostname != APP:
        return None
    return base + parsed.path + (f"?{parsed.query}" if parsed.query else "")


def view_and_click_everything(admin: SignedInSession, base: str) -> list[str]:
    """What a marketer does: the Outbox, the message, every image the preview loads,
    every link in it and in the plain text opened in a new tab (signed in).  Returns
    the links that lead off the app."""
    listing = admin.get(base + "/outbox", timeout=5)
    assert listing.status_code == 200 and "Join our webinar" in listing.text
    [path] = set(re.findall(r'href="(/outbox/\d+)"', listing.text))
    page = admin.get(base + path, timeout=5)
    assert page.status_code == 200
    body = html.unescape(re.search(r'srcdoc="([^"]*)"', page.text).group(1))
    text = html.unescape(re.search(r"<h2>Plain text</h2>\s*<pre>(.*?)</pre>", page.text, re.S).group(1))
    for src in re.findall(r'\ssrc="([^"]+)"', body):
        local = on_app(src, base)
        if local:
            admin.get(local, timeout=5)
    away = []
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body)]
    for link in links + re.findall(r"https?://\S+", text):
        local = on_app(link, base)
        if local:
            admin.get(local, allow_redirects=False, timeout=5)
        else:
            away.append(link)
    return away


def test_viewing_and_clicking_in_the_outbox_records_nothing(sf_runtime, sf_run_jobs, people, sf_live_server):
    rt = sf_runtime
    flow = started(rt, newsletter())
    signed_up(rt, people[0])
    sf_run_jobs()
    admin = SignedInSession(rt, sf_live_server, "flow_admin")

    away = view_and_click_everything(admin, sf_live_server)
    view_and_click_everything(admin, sf_live_server)  # and once more, as marketers do
    sf_run_jobs()
    rt.clock.advance(86400 + 60)
    sf_run_jobs()

    stats = rt.store.stats(flow.id)
    for counter in ("email.opened", "email.opened.unique", "link.clicked", "link.clicked.unique"):
        assert stats.get(counter, 0) == 0, f"{counter} was counted for the marketer's look"
    assert rt.redis.hgetall(keys.flow_links(flow.id, "invite")) == {}
    ada = participant_of(rt, flow, people[0])
    assert "email.opened@invite" not in ada.actions and "link.clicked@invite" not in ada.actions
    assert stats.get("branch:split:0", 0) == 0 and stats.get("branch:split:1", 0) == 0
    assert stats["branch:split:2"] == 1
    subjects = sorted(m["subject"] for m in Outbox(rt.config).messages("email"))
    assert subjects == ["Did you see it?", "Join our webinar"]
    assert sorted(away) == sorted([OFFER, ABOUT, OFFER]), "the preview's links lead where the email's lead"


def test_the_recipients_own_open_and_click_still_count_after_the_marketer_looked(
    sf_runtime, sf_run_jobs, people, sf_live_server
):
    rt = sf_runtime
    flow = started(rt, newsletter())
    signed_up(rt, people[0])
    sf_run_jobs()
    view_and_click_everything(SignedInSession(rt, sf_live_server, "flow_admin"), sf_live_server)

    [sent] = Outbox(rt.config).messages("email")
    pixel = re.search(r'<img src="([^"]+/t/o/[^"]+)"', sent["html"]).group(1)
    offer = re.findall(r'href="([^"]+)"', sent["html"])[0]
    reader = requests.Session()  # the recipient's mail client: no admin sign-in
    assert reader.get(on_app(pixel, sf_live_server), timeout=5).status_code == 200
    clicked = reader.get(on_app(html.unescape(offer), sf_live_server), allow_redirects=False, timeout=5)
    assert clicked.status_code == 302 and clicked.headers["Location"] == OFFER
    sf_run_jobs()
    rt.clock.advance(86400 + 60)
    sf_run_jobs()

    stats = rt.store.stats(flow.id)
    assert stats["email.opened"] == 1 and stats["email.opened.unique"] == 1
    assert stats["link.clicked"] == 1 and stats["link.clicked.unique"] == 1
    assert rt.redis.hgetall(keys.flow_links(flow.id, "invite")) == {OFFER: "1"}
    ada = participant_of(rt, flow, people[0])
    assert "email.opened@invite" in ada.actions and "link.clicked@invite" in ada.actions
    assert stats["branch:split:0"] == 1
    subjects = sorted(m["subject"] for m in Outbox(rt.config).messages("email"))
    assert subjects == ["Join our webinar", "Thanks for signing up"]


def test_a_body_for_viewing_has_no_tracked_address_left():
    sealed = tracking.rewrite_links(
        '<html><body><a href="https://shop.example/offer?a=1&amp;b=2">sign up</a></body></html>',
        "https://news.example/sf",
        "test-secret",
        "7.1",
        "invite",
    )
    shown = for_viewing(sealed, "test-secret")
    assert shown == '<html><body><a href="https://shop.example/offer?a=1&amp;b=2">sign up</a></body></html>'
    click = re.search(r'href="([^"]+)"', sealed).group(1)
    assert for_viewing(f"Sign up: {click} today", "test-secret", as_html=False) == f"Sign up: {OFFER} today"
    foreign = tracking.click_url(
        "https://news.example", tracking.seal("another-secret", "c", "7.1", "s", "", OFFER)
    )
    assert for_viewing(f'<a href="{foreign}">x</a>', "test-secret") == f'<a href="{foreign}">x</a>'
