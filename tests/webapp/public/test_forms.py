"""Hosted forms: definitions in Redis, and posts over real HTTP that create a new
person (what needs proof waits for the emailed link), and are refused with the field
named — or quietly dropped (honeypot), or slowed down (rate limit)."""

from __future__ import annotations

import pytest
import requests

from superflow import forms
from superflow import keys

SIGNUP = {
    "id": "webinar-signup",
    "name": "Webinar sign-up",
    "title": "Join our webinar",
    "fields": [
        {"name": "first_name", "label": "First name", "required": True, "maps_to": "first_name"},
        {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
        {"name": "size", "label": "Company size", "type": "select", "choices": ["1-10", "11-50", "50+"]},
        {"name": "news", "label": "Send me news", "type": "checkbox", "grants": "emarketing"},
    ],
    "subscriptions": ["webinars"],
    "success_message": "See you at the webinar!",
    "rate_limit": 5,
}


@pytest.fixture
def signup(sf_runtime, crm):
    selection = crm.create_selection("Webinar attendees")
    return forms.create(sf_runtime.redis, {**SIGNUP, "selection": selection["id"]}, crm.list_fields())


def test_definitions_are_kept_listed_changed_and_removed(sf_runtime, crm):
    conn = sf_runtime.redis
    made = forms.create(conn, SIGNUP, crm.list_fields())
    numbered = forms.create(conn, {**SIGNUP, "id": None, "name": "Second"})
    assert made["id"] == "webinar-signup" and numbered["id"] == "1"
    assert forms.get(conn, "webinar-signup")["fields"][2]["choices"] == ["1-10", "11-50", "50+"]
    assert [f["name"] for f in forms.list_forms(conn)] == ["Webinar sign-up", "Second"]
    with pytest.raises(forms.FormExists):
        forms.create(conn, SIGNUP)
    changed = forms.update(conn, "1", {**SIGNUP, "name": "Renamed"})
    assert changed["id"] == "1" and changed["created_at"] == numbered["created_at"]
    assert forms.get(conn, "1")["name"] == "Renamed"
    assert forms.delete(conn, "1") is True and forms.delete(conn, "1") is False
    with pytest.raises(forms.FormNotFound, match="there is no form '1'"):
        forms.get(conn, "1")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"fields": []}, "fields: Length must be between 1 and 50."),
        ({"fields": [SIGNUP["fields"][0]]}, "one field must map to email"),
        (
            {"fields": [*SIGNUP["fields"], {"name": "email", "label": "Again"}]},
            "two fields are named 'email'",
        ),
        (
            {"fields": [*SIGNUP["fields"], {"name": "website_url", "label": "Web"}]},
            "kept for spam protection",
        ),
        (
            {"fields": [*SIGNUP["fields"], {"name": "x", "label": "X", "type": "select"}]},
            "x: a select field needs",
        ),
        (
            {"fields": [*SIGNUP["fields"], {"name": "Bad Name", "label": "X"}]},
            "fields.4.name: use lower-case",
        ),
        (
            {"fields": [*SIGNUP["fields"], {"name": "x", "label": "X", "type": "colour"}]},
            "fields.4.type: Must be",
        ),
        (
            {"fields": [*SIGNUP["fields"], {"name": "x", "label": "X", "maps_to": "shoe"}]},
            "no person field 'shoe'",
        ),
        ({"name": ""}, "name: Length must be between 1 and 200."),
        ({"id": "no spaces"}, "id: use letters, digits"),
    ],
)
def test_a_bad_definition_is_refused_naming_what_is_wrong(sf_runtime, crm, change, problem):
    with pytest.raises(forms.FormInvalid) as refused:
        forms.create(sf_runtime.redis, {**SIGNUP, **change}, crm.list_fields())
    assert any(problem in p for p in refused.value.problems), refused.value.problems
    assert forms.list_forms(sf_runtime.redis) == []


def test_the_form_page_shows_its_fields(signup, sf_live_server):
    page = requests.get(f"{sf_live_server}/forms/webinar-signup", timeout=5)
    assert page.status_code == 200 and "<h1>Join our webinar</h1>" in page.text
    for name in ("first_name", "email", "size", "news", "website_url"):
        assert f'name="{name}"' in page.text
    assert "<option>11-50</option>" in page.text and 'action="/forms/webinar-signup"' in page.text
    missing = requests.get(f"{sf_live_server}/forms/nope", timeout=5)
    assert missing.status_code == 404 and "There is no form &#39;nope&#39;" in missing.text


def test_a_post_creates_the_person_and_a_second_from_the_same_address_changes_nothing(
    sf_runtime, crm, signup, sf_live_server
):
    """Consents, subscriptions and changes to a known person wait for the emailed
    link (tests/webapp/public/test_forms_confirmation.py follows it)."""
    rt = sf_runtime
    before = crm.count_persons()
    post = {"first_name": "Åse", "email": "ase@example.com", "size": "11-50", "news": "on", "website_url": ""}
    reply = requests.post(f"{sf_live_server}/forms/webinar-signup", data=post, timeout=5)
    assert reply.status_code == 200 and "Thanks — check your inbox to confirm." in reply.text
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    person = crm.find_person_by_email("ase@example.com")
    assert crm.count_persons() == before + 1 and person["first_name"] == "Åse"
    assert person["consents"] == {} and person["subscriptions"] == {}
    assert person["selections"] == [signup["selection"]]

    again = requests.post(
        f"{sf_live_server}/forms/webinar-signup",
        json={"first_name": "Åse Marie", "email": "ASE@example.com"},
        timeout=5,
    )
    assert again.status_code == 200
    assert again.json() == {"status": "ok", "message": "Thanks — check your inbox to confirm."}
    assert crm.count_persons() == before + 1
    assert crm.get_person(person["id"])["first_name"] == "Åse"
    assert rt.redis.hgetall(keys.form_stats("webinar-signup")) == {
        "submitted": "2",
        "created": "1",
        "confirmations_sent": "2",
    }


def test_without_the_box_ticked_no_consent_is_given(crm, signup, sf_live_server):
    post = {"first_name": "Dag", "email": "dag@example.com"}
    assert requests.post(f"{sf_live_server}/forms/webinar-signup", data=post, timeout=5).status_code == 200
    assert "emarketing" not in crm.find_person_by_email("dag@example.com")["consents"]


def test_errors_name_the_field_on_the_page_and_in_json(sf_runtime, crm, signup, sf_live_server):
    before = crm.count_persons()
    page = requests.post(
        f"{sf_live_server}/forms/webinar-signup", data={"email": "not-an-address", "size": "huge"}, timeout=5
    )
    assert page.status_code == 400
    assert "First name is required" in page.text and "Email: this is not an email address" in page.text
    assert "Company size: choose one of 1-10, 11-50, 50+" in page.text
    assert 'value="not-an-address"' in page.text  # what was typed stays
    reply = requests.post(f"{sf_live_server}/forms/webinar-signup", json={"first_name": "Eva"}, timeout=5)
    assert reply.status_code == 400
    assert reply.json() == {"errors": [{"field": "email", "message": "Email is required"}]}
    bad_body = requests.post(f"{sf_live_server}/forms/webinar-signup", json=["x"], timeout=5)
    assert bad_body.status_code == 400 and "JSON object" in bad_body.json()["errors"][0]["message"]
    assert crm.count_persons() == before and sf_runtime.queue.count == 0


def test_the_honeypot_pretends_success_and_does_nothing(sf_runtime, crm, signup, sf_live_server):
    before = crm.count_persons()
    post = {"first_name": "Bot", "email": "bot@spam.example", "website_url": "http://spam.example"}
    reply = requests.post(f"{sf_live_server}/forms/webinar-signup", data=post, timeout=5)
    assert reply.status_code == 200 and "Thanks — check your inbox to confirm." in reply.text
    assert crm.count_persons() == before and sf_runtime.queue.count == 0
    assert sf_runtime.redis.hget(keys.form_stats("webinar-signup"), "spam") == "1"


def test_too_many_posts_from_one_address_get_429(sf_runtime, crm, signup, sf_live_server):
    for i in range(5):
        post = {"first_name": f"P{i}", "email": f"p{i}@example.com"}
        assert (
            requests.post(f"{sf_live_server}/forms/webinar-signup", data=post, timeout=5).status_code == 200
        )
    refused = requests.post(
        f"{sf_live_server}/forms/webinar-signup", json={"email": "p9@example.com"}, timeout=5
    )
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 3601
    assert "too many posts to this form" in refused.json()["errors"][0]["message"]
    page = requests.post(
        f"{sf_live_server}/forms/webinar-signup", data={"email": "p9@example.com"}, timeout=5
    )
    assert page.status_code == 429 and "Too many posts to this form" in page.text
    assert crm.find_person_by_email("p9@example.com") is None
    assert sf_runtime.redis.hget(keys.form_stats("webinar-signup"), "rate_limited") == "2"
