"""Success counted for days after the last step: a webinar invitation that is the
flow's last step still counts the click that comes the next day."""

from __future__ import annotations

import requests
from tracked_links import hrefs
from tracked_links import local

from superflow import flow as flows_doc
from superflow import flows
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import signed_up
from superflow.testing import started
from superflow.webapp.admin.participants import waiting_words

INVITE = email_step(
    "invite",
    subject="Join our webinar",
    html='<p>Hi {{person.first_name}}, <a href="https://shop.example/webinar">sign up</a>.</p>',
)
CLICKED = {"criteria": [{"type": "link_clicked", "settings": {"step": "invite"}}]}


def invited(rt, *names):
    ids = []
    for first in names:
        person = rt.crm.create_person(first_name=first, email=f"{first.lower()}@example.com")
        rt.crm.set_consent(person["id"], "emarketing", True)
        ids.append(person["id"])
    return ids


def test_a_click_the_day_after_the_last_email_counts_when_success_counts_for_days(
    sf_plugin,
    sf_run_jobs,
    sf_smtp_server,
    serve,
):
    inbox, port = sf_smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    base = serve(rt)
    ada, bo = invited(rt, "Ada", "Bo")
    flow = started(rt, flow_doc([INVITE], name="Webinar", success={**CLICKED, "days_after": 3}))
    signed_up(rt, ada, bo)
    sf_run_jobs(rt)
    assert participant_of(rt, flow, ada).status == "active", "Ada stays while her click may still come"
    assert "success still counts until" in waiting_words(participant_of(rt, flow, bo))

    rt.clock.advance(86400)
    [message] = [m for m in inbox.messages if m["To"] == "ada@example.com"]
    [link] = hrefs(message.get_body(("html",)).get_content())
    assert requests.get(local(link, base), allow_redirects=False, timeout=5).status_code == 302
    sf_run_jobs(rt)
    assert participant_of(rt, flow, ada).status == "succeeded"

    rt.clock.advance(3 * 86400)
    sf_run_jobs(rt)
    bo_now = participant_of(rt, flow, bo)
    assert bo_now.status == "completed" and not bo_now.succeeded
    stats = rt.store.stats(flow.id)
    assert stats["succeeded"] == 1 and stats["completed"] == 1 and stats.get("active", 0) == 0
    assert stats.get("after_last_step", 0) == 0


def test_without_days_after_the_click_comes_too_late_and_the_designer_says_so(sf_runtime, sf_run_jobs):
    rt = sf_runtime
    doc = flow_doc([INVITE], name="Webinar", success=CLICKED)
    flow = flows.create(rt, doc)
    messages = [m for _, m in flows_doc.warnings(flows.get(rt, flow.id), rt.registry)]
    assert any(
        "people leave the flow right after Step 1" in m and "not counted as success" in m for m in messages
    )

    counted = flows.update(rt, flow.id, {**doc, "success": {**CLICKED, "days_after": 2}})
    assert not [m for _, m in flows_doc.warnings(counted, rt.registry) if "leave the flow right after" in m]


def test_days_after_is_checked(sf_runtime):
    doc = flow_doc([INVITE], name="Webinar", success={**CLICKED, "days_after": 400})
    assert [e["field"] for e in refused_save(sf_runtime, doc)] == ["success.days_after"]
