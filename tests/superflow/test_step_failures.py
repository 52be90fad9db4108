"""A step that keeps failing is seen where people look: counts and reasons per step
(the report and the JSON API), "retrying" going down when a retry works, "failed"
when the participant leaves, and one email to the flow's administrators."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from superflow import apikeys
from superflow import flows
from superflow import reports
from superflow import users
from superflow.testing import LiveServer
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.webapp import create_app

GREYLISTED = "451 4.3.0 greylisted, try again later"


def smtp_runtime(sf_plugin, port, **changes):
    return sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port, **changes)


def person(rt, first, address):
    p = rt.crm.create_person(first_name=first, email=address)
    rt.crm.set_consent(p["id"], "emarketing", True)
    return p["id"]


@pytest.fixture
def failing(sf_run_jobs, sf_plugin, sf_smtp_server):
    """A running flow whose welcome email two of three persons cannot get (their
    mail server says "try again later"), made by a flow administrator with an
    email address."""
    inbox, port = sf_smtp_server
    rt = smtp_runtime(sf_plugin, port)
    users.create(rt.redis, "boss@fjord.test", "correct horse battery", "flow_admin")
    users.create(rt.redis, "viewer@fjord.test", "correct horse battery", "viewer")
    inbox.refuse["busy@example.com"] = GREYLISTED
    inbox.refuse["slow@example.com"] = GREYLISTED
    ids = [
        person(rt, "Ada", "ada@example.com"),
        person(rt, "Busy", "busy@example.com"),
        person(rt, "Slow", "slow@example.com"),
    ]
    step = dict(email_step("hello"), name="Welcome email")
    flow = flows.create(rt, flow_doc([step], name="Welcome"), by="boss@fjord.test")
    flow = flows.start(rt, flow.id)
    signed_up(rt, *ids)
    return rt, inbox, flow, ids


def report_of(rt, flow):
    today = dt.date.today()
    return reports.flow_report(rt, flows.get(rt, flow.id), today, today)


def alerts(inbox):
    return [m for m in inbox.messages if "is failing" in m["Subject"]]


def test_retrying_participants_and_why_are_counted_per_step(failing, sf_run_jobs):
    rt, inbox, flow, ids = failing
    sf_run_jobs(rt)

    step = report_of(rt, flow)["steps"][0]
    assert step["retrying"] == 2 and step["failed"] == 0
    assert [r["count"] for r in step["reasons"]] == [2]
    assert step["reasons"][0]["reason"].startswith("Email not sent: SMTP 127.0.0.1")
    assert step["reasons"][0]["reason"].endswith(GREYLISTED)
    assert [s["id"] for s in report_of(rt, flow)["trouble"]] == ["hello"]


def test_a_retry_that_works_lowers_retrying(failing, sf_run_jobs):
    rt, inbox, flow, ids = failing
    sf_run_jobs(rt)
    del inbox.refuse["busy@example.com"]
    rt.clock.advance(61)
    sf_run_jobs(rt)

    step = report_of(rt, flow)["steps"][0]
    assert step["retrying"] == 1
    assert participant_of(rt, flow, ids[1]).status == "completed"
    # The reason stays, seen three times now (Busy once, Slow twice).
    assert step["reasons"][0]["count"] == 3

    del inbox.refuse["slow@example.com"]
    rt.clock.advance(121)
    sf_run_jobs(rt)
    step = report_of(rt, flow)["steps"][0]
    assert step["retrying"] == 0 and step["failed"] == 0
    assert report_of(rt, flow)["trouble"] == []


def test_a_participant_that_keeps_failing_leaves_and_counts_as_failed(failing, sf_run_jobs):
    rt, inbox, flow, ids = failing
    del inbox.refuse["busy@example.com"]
    for _ in range(6):
        sf_run_jobs(rt)
        rt.clock.advance(301)
    sf_run_jobs(rt)

    slow = participant_of(rt, flow, ids[2])
    assert slow.status == "exited"
    step = report_of(rt, flow)["steps"][0]
    assert step["failed"] == 1 and step["retrying"] == 0
    assert step["reasons"][0]["reason"].endswith(GREYLISTED)


def test_the_flow_administrators_get_one_email_when_a_step_starts_failing(failing, sf_run_jobs):
    rt, inbox, flow, ids = failing
    sf_run_jobs(rt)
    rt.clock.advance(61)
    sf_run_jobs(rt)

    sent = alerts(inbox)
    # One email for the step (not one per participant, not one per round), to the
    # administrator and not to the viewer.
    assert [m["To"] for m in sent] == ["boss@fjord.test"]
    body = sent[0].get_body(("plain",)).get_content()
    assert sent[0]["Subject"] == "Flow “Welcome”: Step 1 'Welcome email' is failing"
    assert "2 participants could not get past Step 1 'Welcome email' of flow “Welcome”" in body
    assert f"{GREYLISTED} (2×)" in body
    assert f"http://superflow.test/flows/{flow.id}/chart" in body
    # The participants' emails are not held up by it.
    assert "ada@example.com" in inbox.to()


def test_no_address_for_the_alert_is_logged_and_the_flow_goes_on(
    sf_run_jobs, sf_plugin, sf_smtp_server, caplog
):
    inbox, port = sf_smtp_server
    rt = smtp_runtime(sf_plugin, port)
    users.create(rt.redis, "boss", "correct horse battery", "flow_admin")
    inbox.refuse["busy@example.com"] = GREYLISTED
    flow = flows.start(rt, flows.create(rt, flow_doc([email_step("hello")])).id)
    signed_up(rt, person(rt, "Busy", "busy@example.com"), person(rt, "Ada", "ada@example.com"))
    sf_run_jobs(rt)

    assert alerts(inbox) == []
    assert "nobody can be told" in caplog.text
    assert inbox.to() == ["ada@example.com"]
    assert report_of(rt, flow)["steps"][0]["retrying"] == 1


def test_the_report_api_shows_the_trouble(failing, sf_run_jobs):
    rt, inbox, flow, ids = failing
    sf_run_jobs(rt)
    with LiveServer(create_app(runtime=rt)) as url:
        secret, _ = apikeys.create(rt.redis, "reader", "viewer")
        r = requests.get(
            f"{url}/api/v1/flows/{flow.id}/report",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
    assert r.status_code == 200, r.text
    body = r.json()
    step = body["steps"][0]
    assert step["retrying"] == 2 and step["failed"] == 0
    assert step["reasons"][0]["reason"].endswith(GREYLISTED)
    assert step["reasons"][0]["count"] == 2
    assert [s["id"] for s in body["trouble"]] == ["hello"]
