"""The screens for a CRM's frame: a person's, a company's and a selection's panel by the
CRM's ids, what they say about bad and unknown ids and a CRM that does not answer, and
who may add and remove people (the browser tests frame the person panel itself)."""

from __future__ import annotations

import re

import pytest

from superflow import users
from superflow.testing import PASSWORD
from superflow.testing import csrf_token
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


@pytest.fixture
def crm(sf_runtime):
    """Anna and Per at Berg AS, Ola elsewhere, and a selection of Anna and Ola."""
    c = sf_runtime.crm
    company = c.create_company(name="Berg AS")
    anna = c.create_person(
        first_name="Anna", last_name="Berg", email="anna@berg.test", company_id=company["id"]
    )
    per = c.create_person(first_name="Per", last_name="Berg", email="per@berg.test", company_id=company["id"])
    ola = c.create_person(first_name="Ola", last_name="Nord", email="ola@nord.test")
    for person in (anna, per, ola):
        c.set_consent(person["id"], "emarketing", True)
    chosen = c.create_selection("Autumn fair")
    c.add_to_selection(chosen["id"], [anna["id"], ola["id"]])
    return {
        "company": str(company["id"]),
        "anna": str(anna["id"]),
        "per": str(per["id"]),
        "ola": str(ola["id"]),
        "selection": str(chosen["id"]),
    }


@pytest.fixture
def welcome(sf_runtime):
    return started(
        sf_runtime, flow_doc([dict(email_step("hello"), name="Welcome email"), WAIT], name="Welcome series")
    )


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_person_panel_is_found_by_the_web_panels_id_and_shows_her_flows(
    sf_runtime, sf_signed_in, sf_run_jobs, crm, welcome
):
    sf_runtime.engine.enrol(welcome.id, [crm["anna"]], "manual (test)")
    sf_run_jobs()
    client = sf_signed_in("viewer")
    by_path = client.get(f"/panels/person/{crm['anna']}")
    by_query = client.get(f"/panels/person?id={crm['anna']}")
    assert by_path.status_code == by_query.status_code == 200
    page = text_of(by_query.text)
    assert "Anna Berg" in page and "Berg AS" in page and "Welcome series" in page and "Active" in page
    assert "Now at Step 2 &#39;Wait&#39;" in page
    assert "Last sent Step 1 &#39;Welcome email&#39; · Sent EMAIL to anna@berg.test" in page, (
        "which message, its status"
    )
    assert 'class="topbar"' not in by_query.text, "no top navigation inside the CRM's frame"
    assert f'href="/people/{crm["anna"]}" target="_blank"' in by_query.text
    assert "Add to a flow" not in page and "Remove from this flow" not in page
    assert "Only a flow administrator can add people" in page


def test_an_admin_adds_a_person_and_the_panel_says_when_she_is_in(
    sf_runtime, sf_signed_in, sf_run_jobs, crm, welcome
):
    client = sf_signed_in("flow_admin")
    page = client.get(f"/panels/person/{crm['anna']}")
    sent = client.post(
        f"/panels/person/{crm['anna']}/enrol",
        data={"flow_id": welcome.id, "csrf_token": csrf_token(page.text)},
    )
    assert sent.status_code == 302
    waiting = client.get(sent.headers["Location"])
    assert "Adding Anna Berg to Welcome series…" in waiting.text
    assert 'http-equiv="refresh"' in waiting.text
    sf_run_jobs()
    joined = client.get(sent.headers["Location"])
    assert "Anna Berg is now in Welcome series." in joined.text
    assert 'http-equiv="refresh"' not in joined.text
    assert participant_of(sf_runtime, welcome, crm["anna"]).status == "active"

    again = client.post(
        f"/panels/person/{crm['anna']}/enrol",
        data={"flow_id": welcome.id, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert (
        "Anna Berg was not added to Welcome series: Anna Berg has been in Welcome series already;"
        in again.text
    )


def test_the_reason_a_person_cannot_join_is_said_at_once(sf_runtime, sf_signed_in, sf_run_jobs, crm):
    only_customers = started(
        sf_runtime,
        flow_doc(
            [email_step("hello"), WAIT],
            name="Customer news",
            filters={
                "op": "and",
                "conditions": [
                    {
                        "type": "field",
                        "settings": {"field": "email", "operator": "contains", "value": "@nord.test"},
                    }
                ],
            },
        ),
    )
    client = sf_signed_in("flow_admin")
    token = csrf_token(client.get(f"/panels/person/{crm['anna']}").text)
    said = client.post(
        f"/panels/person/{crm['anna']}/enrol",
        data={"flow_id": only_customers.id, "csrf_token": token},
        follow_redirects=True,
    )
    assert (
        "Anna Berg was not added to Customer news: Anna Berg does not pass the filters of Customer news"
        in said.text
    )
    sf_run_jobs()
    assert participant_of(sf_runtime, only_customers, crm["anna"]) is None


def test_removing_asks_first_then_ends_the_participation(sf_runtime, sf_signed_in, sf_run_jobs, crm, welcome):
    sf_runtime.engine.enrol(welcome.id, [crm["anna"]], "manual (test)")
    sf_run_jobs()
    client = sf_signed_in("flow_admin")
    panel = client.get(f"/panels/person/{crm['anna']}")
    assert "Remove from this flow" in panel.text
    asked = client.get(f"/panels/person/{crm['anna']}/flows/{welcome.id}/remove")
    assert "Remove Anna Berg from Welcome series?" in text_of(asked.text)
    assert participant_of(sf_runtime, welcome, crm["anna"]).status == "active", "asking changes nothing"
    done = client.post(
        f"/panels/person/{crm['anna']}/flows/{welcome.id}/remove",
        data={"csrf_token": csrf_token(asked.text)},
        follow_redirects=True,
    )
    assert "Anna Berg was removed from Welcome series." in done.text
    assert participant_of(sf_runtime, welcome, crm["anna"]).status == "cancelled"


def test_a_viewer_cannot_add_or_remove_even_by_posting(sf_runtime, sf_signed_in, sf_run_jobs, crm, welcome):
    sf_runtime.engine.enrol(welcome.id, [crm["anna"]], "manual (test)")
    sf_run_jobs()
    client = sf_signed_in("viewer")
    token = csrf_token(client.get(f"/panels/person/{crm['anna']}").text)
    added = client.post(
        f"/panels/person/{crm['per']}/enrol", data={"flow_id": welcome.id, "csrf_token": token}
    )
    removed = client.post(
        f"/panels/person/{crm['anna']}/flows/{welcome.id}/remove", data={"csrf_token": token}
    )
    assert added.status_code == removed.status_code == 403
    assert "This needs the role Flow administrator." in added.text
    assert participant_of(sf_runtime, welcome, crm["per"]) is None
    assert participant_of(sf_runtime, welcome, crm["anna"]).status == "active"


def test_a_form_without_the_sessions_token_is_refused(sf_signed_in, crm, welcome):
    client = sf_signed_in("flow_admin")
    refused = client.post(f"/panels/person/{crm['anna']}/enrol", data={"flow_id": welcome.id})
    assert refused.status_code == 400
    assert "did not come from this site" in refused.text


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        ("/panels/person/123456", "No person with id 123456 in the CRM."),
        ("/panels/company?id=98765", "No company with id 98765 in the CRM."),
        ("/panels/selection/4242", "No selection with id 4242 in the CRM."),
    ],
)
def test_an_unknown_id_is_a_clear_404_in_the_panel_layout(sf_signed_in, crm, path, cause):
    answer = sf_signed_in("viewer").get(path)
    assert answer.status_code == 404
    assert cause in answer.text
    assert "in-panel" in answer.text and 'class="topbar"' not in answer.text


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        ("/panels/person?id=", "id: give the person&#39;s id in the CRM"),
        (
            "/panels/person?id=%3Catid%3E",
            "id: a person&#39;s id in the CRM is a number; &#39;&lt;atid&gt;&#39; is not one.",
        ),
        (
            "/panels/company/12abc",
            "id: a company&#39;s id in the CRM is a number; &#39;12abc&#39; is not one.",
        ),
        ("/panels/person/" + "9" * 40, "is not a person id the CRM can have"),
        ("/panels/selection?id=0", "id: 0 is not a selection id the CRM can have"),
        ("/panels/person?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_a_bad_id_is_a_400_naming_the_cause(sf_signed_in, crm, path, cause):
    answer = sf_signed_in("viewer").get(path)
    assert answer.status_code == 400
    assert cause in answer.text
    assert "<script>" not in answer.text


def test_when_the_crm_does_not_answer_the_panel_says_so(sf_runtime, sf_signed_in, crm, monkeypatch):
    client = sf_signed_in("viewer")

    def down(*args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(sf_runtime.crm, "get_persons", down)
    answer = client.get(f"/panels/person/{crm['anna']}")
    assert answer.status_code == 200
    assert "The CRM did not answer" in answer.text and "connection refused" in answer.text


def test_signed_out_the_panel_sends_to_sign_in_and_back(sf_runtime, sf_app, crm):
    users.create(sf_runtime.redis, "kari", PASSWORD, "viewer")
    client = sf_app.test_client()
    asked = client.get(f"/panels/person?id={crm['anna']}")
    assert asked.status_code == 302
    assert asked.headers["Location"] == f"/login?next=/panels/person?id%3D{crm['anna']}"
    form = client.get(asked.headers["Location"])
    back = client.post(
        asked.headers["Location"],
        data={"username": "kari", "password": PASSWORD, "csrf_token": csrf_token(form.text)},
    )
    assert back.headers["Location"] == f"/panels/person?id={crm['anna']}"


def test_the_company_panel_lists_its_persons_and_adds_them_to_a_flow(
    sf_runtime, sf_signed_in, sf_run_jobs, crm, welcome
):
    sf_runtime.engine.enrol(welcome.id, [crm["anna"]], "manual (test)")
    sf_run_jobs()
    client = sf_signed_in("flow_admin")
    page = client.get(f"/panels/company?id={crm['company']}")
    shown = text_of(page.text)
    assert "Berg AS" in shown and "2 persons in the CRM" in shown
    assert "Anna Berg Welcome series Active" in shown and "Per Berg Not in any flow yet." in shown
    assert f'href="/panels/person/{crm["per"]}"' in page.text
    assert "Ola" not in shown
    added = client.post(
        f"/panels/company/{crm['company']}/enrol",
        data={"flow_id": welcome.id, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert "2 people of Berg AS queued for Welcome series." in added.text
    sf_run_jobs()
    assert participant_of(sf_runtime, welcome, crm["per"]).status == "active"


def test_the_selection_panel_shows_its_size_and_flows_and_adds_it(
    sf_runtime, sf_signed_in, sf_run_jobs, crm, welcome
):
    other = started(sf_runtime, flow_doc([email_step("hi"), WAIT], name="Fair follow-up"))
    sf_runtime.engine.enrol(other.id, [crm["ola"]], "manual (test)")
    sf_run_jobs()
    client = sf_signed_in("flow_admin")
    page = client.get(f"/panels/selection/{crm['selection']}")
    shown = text_of(page.text)
    assert "Autumn fair" in shown and "Selection · 2 people" in shown
    assert "Fair follow-up Running 1 of its person has taken part" in shown
    added = client.post(
        f"/panels/selection/{crm['selection']}/enrol",
        data={"flow_id": welcome.id, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert "2 people of Autumn fair queued for Welcome series." in added.text
    sf_run_jobs()
    assert participant_of(sf_runtime, welcome, crm["anna"]) and participant_of(
        sf_runtime, welcome, crm["ola"]
    )
    assert participant_of(sf_runtime, welcome, crm["per"]) is None
    again = text_of(client.get(f"/panels/selection/{crm['selection']}").text)
    assert "Welcome series Running 2 of its people have taken part" in again


def test_adding_names_a_missing_or_unknown_flow_and_a_paused_one(sf_runtime, sf_signed_in, crm, welcome):
    client = sf_signed_in("flow_admin")
    token = csrf_token(client.get(f"/panels/person/{crm['anna']}").text)
    path = f"/panels/person/{crm['anna']}/enrol"
    missing = client.post(path, data={"csrf_token": token})
    unknown = client.post(path, data={"flow_id": "9999", "csrf_token": token})
    assert (missing.status_code, unknown.status_code) == (400, 404)
    assert "flow: choose the flow to add them to." in missing.text
    assert "There is no flow 9999." in unknown.text and "in-panel" in unknown.text
    sf_runtime.engine.pause(welcome.id)
    paused = client.post(path, data={"flow_id": welcome.id, "csrf_token": token}, follow_redirects=True)
    said = "Anna Berg was not added to Welcome series: Welcome series is paused: resume it first."
    assert said in paused.text
