"""Hosted forms and people already in the CRM: a stranger's post changes nothing;
the confirmation email (real SMTP, aiosmtpd) carries a single-use link whose page
applies the answer only when its button is pressed; consents wait for that click,
for new addresses too; and one address gets at most a few such emails an hour."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from superflow import forms
from superflow import keys
from superflow.runtime import Runtime
from superflow.testing import LiveServer
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import started
from superflow.webapp import create_app

SIGNUP = {
    "id": "webinar-signup",
    "name": "Webinar sign-up",
    "title": "Join our webinar",
    "fields": [
        {"name": "first_name", "label": "First name", "required": True, "maps_to": "first_name"},
        {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
        {"name": "news", "label": "Send me news", "type": "checkbox", "grants": "emarketing"},
    ],
    "subscriptions": ["webinars"],
    "success_message": "See you at the webinar!",
    "rate_limit": 50,
}
CHECK_INBOX = "Thanks — check your inbox to confirm"
LINK = re.compile(r"http://superflow\.test(/forms/webinar-signup/confirm/[A-Za-z0-9_.-]+)")


class Site:
    """The web app on an SMTP runtime, over real HTTP, and the SMTP server's inbox."""

    def __init__(self, rt: Runtime, url: str, inbox: Any) -> None:
        self.rt, self.url, self.inbox = rt, url, inbox

    def post(self, **values: Any) -> requests.Response:
        return requests.post(f"{self.url}/forms/webinar-signup", data=values, timeout=10)

    def links(self) -> list[str]:
        """The confirmation links of the emails that arrived, oldest first (as paths)."""
        found = []
        for message in self.inbox.messages:
            match = LINK.search(message.get_body(("plain",)).get_content())
            assert match, message.get_body(("plain",)).get_content()
            found.append(match.group(1))
        return found


@pytest.fixture
def site(sf_runtime, sf_plugin, sf_smtp_server) -> Iterator[Site]:
    """(``sf_runtime`` first: making it empties Redis, which must not happen after.)"""
    inbox, port = sf_smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    selection = rt.crm.create_selection("Webinar attendees")
    forms.create(rt.redis, {**SIGNUP, "selection": selection["id"]}, rt.crm.list_fields())
    with LiveServer(create_app(runtime=rt)) as url:
        yield Site(rt, url, inbox)


@pytest.fixture
def ada(site) -> dict[str, Any]:
    """A person the CRM already has, with no consent and no subscription."""
    return site.rt.crm.create_person(first_name="Ada", last_name="Lovelace", email="ada@example.com")


def webinar_flow(rt: Runtime):
    wait = {"id": "w", "type": "wait", "settings": {"amount": 1}}
    trigger = {"type": "form_submitted", "settings": {"form": "webinar-signup"}}
    return started(rt, flow_doc([wait], trigger=trigger))


def test_a_strangers_post_with_a_known_address_changes_nothing_and_emails_a_link(site, ada, sf_run_jobs):
    rt = site.rt
    flow = webinar_flow(rt)
    reply = site.post(first_name="Mallory", email="ADA@example.com", news="on")

    person = rt.crm.get_person(ada["id"])
    assert person["first_name"] == "Ada"
    assert "emarketing" not in person["consents"] and "webinars" not in person["subscriptions"]
    assert person["selections"] == []
    assert reply.status_code == 200 and CHECK_INBOX in reply.text
    sf_run_jobs(rt)
    assert participant_of(rt, flow, ada["id"]) is None
    [message] = site.inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Please confirm your answer to Join our webinar"
    assert (
        "If it was not you, ignore this email: nothing will change."
        in message.get_body(("plain",)).get_content()
    )
    assert len(site.links()) == 1


def test_opening_the_link_changes_nothing_its_button_confirms_once(site, ada, sf_run_jobs):
    rt = site.rt
    flow = webinar_flow(rt)
    site.post(first_name="Åse Marie", email="ada@example.com", news="on")
    [link] = site.links()

    page = requests.get(site.url + link, timeout=10)
    assert page.status_code == 200 and "Confirm your answer" in page.text
    assert "Åse Marie" in page.text and f'action="{link}"' in page.text
    assert page.headers["Cache-Control"].startswith("no-store")
    assert rt.crm.get_person(ada["id"])["first_name"] == "Ada"  # a mail scanner's GET does nothing

    done = requests.post(site.url + link, timeout=10)
    assert done.status_code == 200 and "Thank you — your answer is confirmed" in done.text
    assert "See you at the webinar!" in done.text
    person = rt.crm.get_person(ada["id"])
    assert person["first_name"] == "Åse Marie" and person["last_name"] == "Lovelace"
    assert person["consents"]["emarketing"] is True and person["subscriptions"]["webinars"] is True
    assert person["selections"] == [rt.crm.list_selections()[0]["id"]]
    sf_run_jobs(rt)
    assert participant_of(rt, flow, ada["id"]).event["confirmed"] is True

    rt.crm.update_persons([(ada["id"], {"first_name": "Ada"}, "put-back")])
    for again in (requests.post(site.url + link, timeout=10), requests.get(site.url + link, timeout=10)):
        assert again.status_code == 200 and "already confirmed" in again.text
    assert rt.crm.get_person(ada["id"])["first_name"] == "Ada"  # the second use applied nothing


def test_a_forged_or_expired_link_gets_a_clear_page_and_applies_nothing(site, ada):
    site.post(first_name="Mallory", email="ada@example.com", news="on")
    [link] = site.links()
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    refused = requests.post(site.url + forged, timeout=10)
    assert refused.status_code == 400 and "This link is not valid" in refused.text
    made_up = requests.get(f"{site.url}/forms/webinar-signup/confirm/nonsense", timeout=10)
    assert made_up.status_code == 400 and "This link is not valid" in made_up.text

    site.rt.clock.advance(49 * 3600)
    for expired in (requests.get(site.url + link, timeout=10), requests.post(site.url + link, timeout=10)):
        assert expired.status_code == 410 and "This link has expired" in expired.text
        assert "fill in the form again" in expired.text
    person = site.rt.crm.get_person(ada["id"])
    assert person["first_name"] == "Ada" and "emarketing" not in person["consents"]


def test_a_new_address_is_created_at_once_with_its_consents_waiting_for_the_link(site, sf_run_jobs):
    rt = site.rt
    flow = webinar_flow(rt)
    reply = site.post(first_name="Bjørn", email="bjorn@example.com", news="on")

    person = rt.crm.find_person_by_email("bjorn@example.com")
    assert person["first_name"] == "Bjørn" and person["selections"] == [rt.crm.list_selections()[0]["id"]]
    assert "emarketing" not in person["consents"] and "webinars" not in person["subscriptions"]
    assert reply.status_code == 200 and CHECK_INBOX in reply.text
    sf_run_jobs(rt)
    assert participant_of(rt, flow, person["id"]) is None  # its flow waits for the consent

    [link] = site.links()
    assert requests.post(site.url + link, timeout=10).status_code == 200
    person = rt.crm.get_person(person["id"])
    assert person["consents"]["emarketing"] is True and person["subscriptions"]["webinars"] is True
    sf_run_jobs(rt)
    event = participant_of(rt, flow, person["id"]).event
    assert event["created"] is True and event["confirmed"] is True
    assert event["fields"] == {"first_name": "Bjørn", "email": "bjorn@example.com", "news": True}


def test_the_answer_is_the_same_for_known_and_unknown_addresses(site, ada):
    known = requests.post(
        f"{site.url}/forms/webinar-signup", json={"first_name": "X", "email": "ada@example.com"}, timeout=10
    )
    unknown = requests.post(
        f"{site.url}/forms/webinar-signup", json={"first_name": "X", "email": "eve@example.com"}, timeout=10
    )
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {"status": "ok", "message": f"{CHECK_INBOX}."}
    assert sorted(site.inbox.to()) == ["ada@example.com", "eve@example.com"]


def test_one_address_gets_at_most_three_confirmation_emails_an_hour(site, ada):
    replies = [site.post(first_name=f"Try {i}", email="ada@example.com") for i in range(5)]
    assert {r.status_code for r in replies} == {200}
    assert all(CHECK_INBOX in r.text for r in replies)
    assert site.inbox.to() == ["ada@example.com"] * 3
    assert site.rt.redis.hget(keys.form_stats("webinar-signup"), "confirmations_limited") == "2"
    site.rt.clock.advance(3600)
    site.post(first_name="Next hour", email="ada@example.com")
    assert len(site.inbox.messages) == 4
    assert site.rt.crm.get_person(ada["id"])["first_name"] == "Ada"
