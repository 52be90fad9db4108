"""The unsubscribe page and RFC 8058 one-click over real HTTP: consent or subscription
withdrawn in the CRM, the person's next email not sent, bad tokens refused."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests

from superflow import tracking
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started


def newsletter(**settings):
    steps = [
        email_step("first", subject="Issue 1", **settings),
        {"id": "w", "type": "wait", "settings": {"amount": 1}},
        email_step("second", subject="Issue 2", **settings),
    ]
    return flow_doc(steps)


def unsubscribe_address(rt, base_url, recipient):
    [message] = [m for m in Outbox(rt.config).messages("email") if m["recipient"] == recipient]
    header = message["headers"]["List-Unsubscribe"]
    assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    address = header.strip("<>")
    assert address.startswith("http://superflow.test/u/")
    return base_url + urlparse(address).path


def test_page_then_button_withdraws_consent_and_the_next_email_is_not_sent(
    sf_runtime, sf_run_jobs, people, crm, sf_live_server
):
    rt = sf_runtime
    flow = started(rt, newsletter())
    signed_up(rt, people[0], people[1])
    sf_run_jobs()
    address = unsubscribe_address(rt, sf_live_server, "ada@example.com")
    assert f"{flow.id}.1" not in address and "ada" not in address

    page = requests.get(address, timeout=5)
    assert page.status_code == 200 and "Do you want to stop receiving marketing email from us?" in page.text
    assert f'<form method="post" action="{urlparse(address).path}">' in page.text
    assert crm.get_person(people[0])["consents"]["emarketing"] is True  # a GET changes nothing

    done = requests.post(address, timeout=5)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert crm.get_person(people[0])["consents"]["emarketing"] is False
    assert requests.post(address, timeout=5).status_code == 200  # again: still fine
    assert rt.store.stats(flow.id)["email.unsubscribed"] == 1
    assert rt.store.stats(flow.id)["step:first:email.unsubscribed"] == 1

    sf_run_jobs()
    rt.clock.advance(86400 + 1)
    sf_run_jobs()
    ada, bjorn = participant_of(rt, flow, people[0]), participant_of(rt, flow, people[1])
    assert ada.status == "exited" and ada.reason == "email.unsubscribed", "taken out at once"
    assert any(h["kind"] == "event" and h["note"] == "email.unsubscribed" for h in ada.history)
    assert bjorn.status == "completed"
    subjects = sorted((m["recipient"], m["subject"]) for m in Outbox(rt.config).messages("email"))
    assert subjects == [
        ("ada@example.com", "Issue 1"),
        ("bjørn@example.com", "Issue 1"),
        ("bjørn@example.com", "Issue 2"),
    ]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_withdraws_at_once(sf_runtime, sf_run_jobs, people, crm, sf_live_server, encoding):
    rt = sf_runtime
    started(rt, newsletter())
    signed_up(rt, people[0])
    sf_run_jobs()
    address = unsubscribe_address(rt, sf_live_server, "ada@example.com")
    if encoding == "urlencoded":
        reply = requests.post(address, data={"List-Unsubscribe": "One-Click"}, timeout=5)
    else:
        reply = requests.post(address, files={"List-Unsubscribe": (None, "One-Click")}, timeout=5)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/plain")
    assert "Unsubscribed" in reply.text and "Location" not in reply.headers
    assert crm.get_person(people[0])["consents"]["emarketing"] is False


def test_a_mailing_with_a_subscription_cancels_that_subscription_only(
    sf_runtime, sf_run_jobs, people, crm, sf_live_server
):
    rt = sf_runtime
    crm.set_subscription(people[0], "newsletter", True)
    flow = started(rt, newsletter(subscription="newsletter"))
    signed_up(rt, people[0])
    sf_run_jobs()
    address = unsubscribe_address(rt, sf_live_server, "ada@example.com")
    assert "the newsletter mailing" in requests.get(address, timeout=5).text
    assert requests.post(address, data={"List-Unsubscribe": "One-Click"}, timeout=5).status_code == 200
    person = crm.get_person(people[0])
    assert person["subscriptions"]["newsletter"] is False and person["consents"]["emarketing"] is True
    sf_run_jobs()
    rt.clock.advance(86400 + 1)
    sf_run_jobs()
    assert participant_of(rt, flow, people[0]).reason == "email.unsubscribed"


def test_bad_tokens_are_refused_with_the_cause(sf_runtime, sf_live_server, crm, people):
    good = tracking.seal("test-secret", "u", "1.1", "first", people[0])
    for token, status in (
        (good[:-4], 404),
        (good[:20], 400),
        (tracking.seal("other", "u", "1.1", "s", "1"), 404),
    ):
        page = requests.get(f"{sf_live_server}/u/{token}", timeout=5)
        assert page.status_code == status and "This link is not valid" in page.text
        one_click = requests.post(
            f"{sf_live_server}/u/{token}", data={"List-Unsubscribe": "One-Click"}, timeout=5
        )
        assert one_click.status_code == status and one_click.text.startswith("this link is not valid")
    click_token = tracking.seal("test-secret", "c", "1.1", "first", people[0], "https://x.example/")
    assert requests.post(f"{sf_live_server}/u/{click_token}", timeout=5).status_code == 404
    assert crm.get_person(people[0])["consents"]["emarketing"] is True


def test_a_person_no_longer_in_the_crm_is_told_so(sf_runtime, sf_live_server):
    token = tracking.seal("test-secret", "u", "1.1", "first", "9999")
    reply = requests.post(f"{sf_live_server}/u/{token}", timeout=5)
    assert reply.status_code == 200 and "We no longer have you on our lists" in reply.text
