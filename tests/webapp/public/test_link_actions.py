"""Link actions end to end: an email sent through a real SMTP server, its tracked link
clicked over real HTTP (twice), the queued job run; the local CRM has the person in
the selection and one request, not two.  And what keeps a flow with link actions
from starting, and the designer's warning when a link action repeats a step."""

from __future__ import annotations

import requests
from tracked_links import ABOUT
from tracked_links import OFFER
from tracked_links import hrefs
from tracked_links import invite
from tracked_links import local

from superflow import flows
from superflow import link_actions
from superflow.flow import parse_flow
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started


def offer_actions(selection_id, category="Support"):
    return [
        {
            "url": OFFER,
            "actions": [
                {"type": "add_to_selection", "settings": {"selection": selection_id}},
                {
                    "type": "create_request",
                    "settings": {
                        "title": "Call {{ person.first_name }} about the offer",
                        "category": category,
                    },
                },
            ],
        }
    ]


def test_a_click_adds_to_the_selection_and_creates_one_request_even_after_two_clicks(
    sf_plugin, sf_run_jobs, sf_smtp_server, serve
):
    inbox, port = sf_smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    base = serve(rt)
    hot = rt.crm.create_selection("Hot leads")
    rt.crm.create_request_category("Support")
    ada = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    rt.crm.set_consent(ada["id"], "emarketing", True)
    doc = flow_doc([invite(link_actions=offer_actions(str(hot["id"])))], name="Webinar")
    flow = started(rt, doc)
    signed_up(rt, ada["id"])
    sf_run_jobs(rt)
    [message] = inbox.messages
    offer, about = hrefs(message.get_body(("html",)).get_content())

    for _ in range(2):
        clicked = requests.get(local(offer, base), allow_redirects=False, timeout=5)
        assert clicked.status_code == 302 and clicked.headers["Location"] == OFFER
    assert rt.crm.selection_members(str(hot["id"])) == [], "the click's answer does not wait for the CRM"
    sf_run_jobs(rt)
    requests.get(local(offer, base), allow_redirects=False, timeout=5)
    requests.get(local(about, base), allow_redirects=False, timeout=5)
    sf_run_jobs(rt)

    assert rt.crm.selection_members(str(hot["id"])) == [str(ada["id"])]
    [made] = rt.crm.list_requests(str(ada["id"]))
    assert made["title"] == "Call Ada about the offer"

    # the job run again (a worker died after the CRM calls) creates nothing twice
    pid = participant_of(rt, flow, str(ada["id"])).id
    link_actions.run(rt, flows.get(rt, flow.id), "invite", pid, str(ada["id"]), OFFER)
    assert len(rt.crm.list_requests(str(ada["id"]))) == 1


def test_link_actions_the_crm_cannot_do_keep_the_flow_from_starting(sf_runtime):
    doc = flow_doc([invite(link_actions=offer_actions("404"))])
    doc["steps"][0]["settings"]["link_actions"][0]["actions"].append({"type": "send_email", "settings": {}})
    problems = refused_start(sf_runtime, doc)
    assert any(
        "link https://shop.example/offer?a=1&b=2: Add to selection: the CRM has no selection '404'" in p
        for p in problems
    ), problems
    assert any("'Send email' cannot be done by a click" in p for p in problems), problems


def test_link_actions_on_an_email_without_tracking_cannot_start(sf_runtime):
    hot = sf_runtime.crm.create_selection("Hot leads")
    doc = flow_doc([invite(tracking=False, link_actions=offer_actions(str(hot["id"])))])
    sf_runtime.crm.create_request_category("Support")
    problems = refused_start(sf_runtime, doc)
    assert "Step 1 'Send email': link actions need opens and clicks tracked" in problems, problems


def test_the_designer_warns_when_a_link_action_repeats_a_step(sf_runtime, sf_signed_in):
    hot = sf_runtime.crm.create_selection("Hot leads")
    add = {"id": "add", "type": "add_to_selection", "settings": {"selection": str(hot["id"])}}
    links = [
        {"url": ABOUT, "actions": [{"type": "add_to_selection", "settings": {"selection": str(hot["id"])}}]}
    ]
    doc = flow_doc([invite(link_actions=links), add])
    parse_flow(doc, sf_runtime.registry)
    designer = sf_signed_in("flow_admin", over_http=True)
    review = designer.call("/designer/check", {"doc": doc}).json()
    assert review["errors"] == []
    warned = [w["message"] for w in review["warnings"]]
    assert any(
        f"a click on {ABOUT} does 'Add to selection', as Step 2 'Add to selection' also does" in w
        for w in warned
    ), warned
    assert not any("Add to selection" in p["message"] for p in review["problems"])
    assert flows.create(sf_runtime, doc)
