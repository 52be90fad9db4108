"""Tracked links and open pixels over real HTTP: an email through a real SMTP server
is opened and clicked, the waiting participant moves on; tampered tokens get a page
naming the cause, never a redirect or a 5xx; unique and total counts."""

from __future__ import annotations

import base64
import random
import re

import pytest
import requests
from tracked_links import OFFER
from tracked_links import hrefs
from tracked_links import invite
from tracked_links import local

from superflow import keys
from superflow import tracking
from superflow.plugins.outbox import Outbox
from superflow.testing import email_action_branch
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import split_step
from superflow.testing import started

SECRET = "test-secret"


def pixel_of(html):
    return re.search(r'<img src="([^"]+/t/o/[^"]+)"', html).group(1)


def webinar(**success):
    steps = [
        invite(),
        {
            "id": "wait_click",
            "type": "wait_for_action",
            "settings": {"action": "link.clicked", "step": "invite", "timeout_days": 2},
        },
        split_step(
            "split",
            [
                email_action_branch(
                    "Clicked",
                    "link.clicked",
                    "invite",
                    [email_step("thanks", subject="Thanks for signing up")],
                )
            ],
            everyone_else=[email_step("nudge", subject="Did you see it?")],
        ),
        {"id": "pause", "type": "wait", "settings": {"amount": 1}},
    ]
    return flow_doc(steps, name="Webinar", **success)


def test_email_through_smtp_opened_and_clicked_moves_the_waiting_participant_on(
    sf_plugin, sf_run_jobs, sf_smtp_server, serve
):
    inbox, port = sf_smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    base = serve(rt)
    ids = []
    for first in ("Ada", "Bjørn"):
        person = rt.crm.create_person(first_name=first, email=f"{first.lower()}@example.com")
        rt.crm.set_consent(person["id"], "emarketing", True)
        ids.append(person["id"])
    success = {
        "criteria": [
            {"type": "link_clicked", "settings": {"step": "invite", "url": "https://shop.example/about"}}
        ]
    }
    flow = started(rt, webinar(success=success))
    follow_up = started(
        rt,
        flow_doc(
            [email_step("hello", subject="You clicked our offer")],
            trigger={
                "type": "link_clicked",
                "settings": {"flow": flow.id, "url": "https://shop.example/offer*"},
            },
            name="Clicked the offer",
        ),
    )
    signed_up(rt, *ids)
    sf_run_jobs(rt)
    assert rt.store.stats(flow.id)["at:wait_click"] == 2

    [message] = [m for m in inbox.messages if m["To"] == "ada@example.com"]
    html = message.get_body(("html",)).get_content()
    offer, about = hrefs(html)
    pixel = pixel_of(html)
    pid = participant_of(rt, flow, ids[0]).id
    for address in (offer, about, pixel, message["List-Unsubscribe"]):
        assert "shop.example" not in address and pid not in address and f"/{ids[0]}/" not in address
    assert len(offer) < 200 and len(pixel) < 120

    opened = requests.get(local(pixel, base), timeout=5)
    assert opened.status_code == 200 and opened.headers["Content-Type"] == "image/gif"
    assert opened.content.startswith(b"GIF89a") and "no-store" in opened.headers["Cache-Control"]
    clicked = requests.get(local(offer, base), allow_redirects=False, timeout=5)
    assert clicked.status_code == 302 and clicked.headers["Location"] == OFFER
    sf_run_jobs(rt)

    ada, bjorn = (participant_of(rt, flow, pid) for pid in ids)
    assert "link.clicked@invite" in ada.actions and "email.opened@invite" in ada.actions
    assert any(h["step"] == "wait_click" and h["note"] == "link.clicked arrived" for h in ada.history)
    assert ada.status == "active" and ada.step == "pause" and not ada.succeeded
    assert bjorn.status == "active" and bjorn.step == "wait_click"
    stats = rt.store.stats(flow.id)
    assert stats["branch:split:0"] == 1
    assert stats["step:invite:email.opened"] == 1 and stats["step:invite:link.clicked.unique"] == 1
    assert participant_of(rt, follow_up, ids[0]) is not None
    assert participant_of(rt, follow_up, ids[1]) is None

    # the success criterion waits for the other link
    assert requests.get(local(about, base), allow_redirects=False, timeout=5).status_code == 302
    sf_run_jobs(rt)
    ada = participant_of(rt, flow, ids[0])
    assert ada.status == "succeeded" and ada.reason == "success: link.clicked"

    rt.clock.advance(2 * 86400 + 1)
    sf_run_jobs(rt)
    subjects = sorted((m["To"], m["Subject"]) for m in inbox.messages)
    assert subjects == [
        ("ada@example.com", "Join our webinar"),
        ("ada@example.com", "Thanks for signing up"),
        ("ada@example.com", "You clicked our offer"),
        ("bjørn@example.com", "Did you see it?"),
        ("bjørn@example.com", "Join our webinar"),
    ]


@pytest.fixture
def sent(sf_runtime, sf_run_jobs, people):
    """A tracked email to Ada, waiting a day after it: (flow, participant id, html)."""
    rt = sf_runtime
    flow = started(rt, webinar())
    signed_up(rt, people[0])
    sf_run_jobs()
    [message] = Outbox(rt.config).messages("email")
    return flow, participant_of(rt, flow, people[0]).id, message["html"]


def test_repeated_opens_count_once_for_unique_and_every_time_for_totals(sf_runtime, sf_run_jobs, sent, serve):
    rt = sf_runtime
    flow, pid, html = sent
    base = serve(rt)
    offer, about = hrefs(html)
    for _ in range(3):
        assert requests.get(local(pixel_of(html), base), timeout=5).status_code == 200
    for link in (offer, offer, about):
        assert requests.get(local(link, base), allow_redirects=False, timeout=5).status_code == 302
    assert requests.head(local(offer, base), timeout=5).status_code == 302  # a link checker: no click
    sf_run_jobs()

    stats = rt.store.stats(flow.id)
    assert stats["email.opened"] == 3 and stats["email.opened.unique"] == 1
    assert stats["step:invite:email.opened"] == 3 and stats["step:invite:email.opened.unique"] == 1
    assert stats["link.clicked"] == 3 and stats["link.clicked.unique"] == 1
    assert rt.redis.hgetall(keys.flow_links(flow.id, "invite")) == {
        OFFER: "2",
        "https://shop.example/about": "1",
    }
    events = [h["note"] for h in rt.store.history(pid) if h["kind"] == "event"]
    assert sorted(events) == ["email.opened", "link.clicked", "link.clicked"]  # one per message / link


def token_for(kind="c", secret=SECRET, url=OFFER, pid="1.1", **kw):
    return tracking.seal(secret, kind, pid, "invite", "1", url if kind == "c" else "", **kw)


def flip(token, at):
    chars = list(token)
    chars[at] = "A" if chars[at] != "A" else "B"
    return "".join(chars)


@pytest.mark.parametrize(
    ("make", "status", "cause"),
    [
        (lambda t: flip(t, len(t) // 2), 404, "was changed or was not made by this server"),
        (lambda t: flip(t, 0), 404, "was changed or was not made by this server"),
        (lambda t: flip(t, len(t) - 1), 404, "was changed or was not made by this server"),
        (lambda t: t[:-12], 404, "was changed or was not made by this server"),
        (lambda t: t[:30], 400, "incomplete"),
        (lambda t: t[:-1] + "=", 400, "incomplete"),
        (lambda t: t + "a", (400, 404), "this link is not valid"),
        (lambda t: token_for(secret="another-secret"), 404, "was not made by this server"),
        (lambda t: token_for(kind="o"), 404, "was changed or was not made by this server"),
        (lambda t: token_for(kind="u"), 404, "was changed or was not made by this server"),
        (lambda t: "x" * 5000, 400, "incomplete"),
        (lambda t: token_for(now=1_000_000), 410, "this link has expired"),
    ],
)
def test_tampered_click_tokens_get_a_page_naming_the_cause(sf_runtime, serve, make, status, cause):
    base = serve(sf_runtime)
    reply = requests.get(f"{base}/t/c/{make(token_for())}", allow_redirects=False, timeout=5)
    assert reply.status_code in (status if isinstance(status, tuple) else (status,))
    assert cause.lower() in reply.text.lower() and "Location" not in reply.headers
    assert reply.headers["Content-Type"].startswith("text/html")
    assert sf_runtime.queue.count == 0


def test_an_expired_link_shows_where_it_led(sf_runtime, serve):
    base = serve(sf_runtime)
    reply = requests.get(f"{base}/t/c/{token_for(now=1_000_000)}", allow_redirects=False, timeout=5)
    assert reply.status_code == 410 and "This link has expired" in reply.text
    assert 'href="https://shop.example/offer?a=1&amp;b=2"' in reply.text


def test_a_swapped_url_is_ignored_and_only_the_sealed_one_is_followed(sf_runtime, serve):
    base = serve(sf_runtime)
    token = token_for()
    for query in ("?u=https://evil.example/", "?u=https%3A%2F%2Fevil.example", "?next=//evil.example"):
        reply = requests.get(f"{base}/t/c/{token}{query}", allow_redirects=False, timeout=5)
        assert reply.status_code == 302 and reply.headers["Location"] == OFFER


def test_random_damage_never_gives_a_redirect_or_a_server_error(sf_runtime, serve):
    base = serve(sf_runtime)
    token = token_for()
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    rng = random.Random(7)
    session = requests.Session()
    for _ in range(60):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        if damaged == raw:  # two flips undid each other
            continue
        mangled = base64.urlsafe_b64encode(bytes(damaged)).rstrip(b"=").decode()
        if rng.random() < 0.3:
            mangled = mangled[: rng.randrange(1, len(mangled))]
        for path in (f"/t/c/{mangled}", f"/u/{mangled}"):
            reply = session.get(base + path, allow_redirects=False, timeout=5)
            assert reply.status_code in (400, 404), (path, reply.status_code)
            assert "this link is not valid" in reply.text.lower()
    for junk in ("%00", "..%2F..%2Fetc", "a.b", "%F0%9F%98%80", "a" * 10):
        reply = session.get(f"{base}/t/c/{junk}", allow_redirects=False, timeout=5)
        assert 400 <= reply.status_code < 500 and "Location" not in reply.headers


def test_the_pixel_is_a_gif_even_for_a_bad_token_but_counts_nothing(sf_runtime, sent, serve):
    rt = sf_runtime
    flow, _, html = sent
    base = serve(rt)
    good = local(pixel_of(html), base)
    for address in (good[:-12] + ".gif", flip(good, len(good) - 10), f"{base}/t/o/{token_for(kind='c')}.gif"):
        reply = requests.get(address, timeout=5)
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/gif"
    assert "email.opened" not in rt.store.stats(flow.id) and rt.queue.count == 0
    assert requests.get(good, timeout=5).status_code == 200
    assert rt.store.stats(flow.id)["email.opened"] == 1 and rt.queue.count == 1


def test_tokens_hide_the_ids_and_open_only_as_their_kind():
    token = tracking.seal(SECRET, "c", "12.345", "invite", "678", OFFER)
    assert "12.345" not in token and "678" not in token
    for text in (token, base64.urlsafe_b64decode(token + "==").decode("latin-1")):
        assert "12.345" not in text and "shop.example" not in text
    opened = tracking.open_token(SECRET, "c", token)
    assert (opened.participant_id, opened.step_id, opened.person_id, opened.url) == (
        "12.345",
        "invite",
        "678",
        OFFER,
    )
    assert opened.flow_id == "12"
    assert tracking.seal(SECRET, "o", "12.345", "invite", "678") != tracking.seal(
        SECRET, "o", "12.345", "invite", "678"
    )
    with pytest.raises(tracking.TokenInvalid) as bad:
        tracking.open_token(SECRET, "o", token)
    assert bad.value.status == 404
    old = tracking.seal(SECRET, "u", "1.1", "s", "1", now=0)
    assert tracking.open_token(SECRET, "u", old).subscription == ""  # unsubscribe links never expire
    with pytest.raises(tracking.TokenInvalid, match="expired"):
        tracking.open_token(SECRET, "u", old, max_age_days=30)
