"""What a hosted form's newer settings do on a real post over HTTP: a new person is
added to the form's project at once, a ticked checkbox that starts a subscription
waits for the confirmation like the form's own, and a form with a page of the
marketer's site sends the browser there."""

from __future__ import annotations

import pytest
import requests

from superflow import forms


def test_a_post_adds_to_the_project_subscribes_on_confirmation_and_redirects(sf_runtime, sf_live_server):
    rt = sf_runtime
    project = rt.crm.create_project("Spring webinar")
    form = forms.create(
        rt.redis,
        {
            "id": "webinar",
            "name": "Webinar sign-up",
            "fields": [
                {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
                {"name": "news", "label": "Send me news", "type": "checkbox", "subscribes": "newsletter"},
            ],
            "project": str(project["id"]),
            "redirect_url": "https://www.example.com/thanks",
        },
        rt.crm.list_fields(),
    )
    reply = requests.post(
        f"{sf_live_server}/forms/{form['id']}",
        data={"email": "new.person@example.com", "news": "on"},
        allow_redirects=False,
        timeout=10,
    )
    assert reply.status_code == 303 and reply.headers["Location"] == "https://www.example.com/thanks"
    person = rt.crm.find_person_by_email("new.person@example.com")
    assert [str(m["person_id"]) for m in rt.crm.project_members(str(project["id"]))] == [str(person["id"])]
    assert not (person.get("subscriptions") or {}).get("newsletter"), (
        "the subscription waits for the confirmation"
    )


def test_a_redirect_that_is_no_web_address_is_refused_naming_the_field(sf_runtime):
    doc = {
        "name": "Bad",
        "fields": [
            {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}
        ],
        "redirect_url": "javascript:alert(1)",
    }
    with pytest.raises(forms.FormInvalid) as refused:
        forms.create(sf_runtime.redis, doc)
    assert refused.value.problems == ["redirect_url: enter a web address starting with http:// or https://"]
    assert forms.list_forms(sf_runtime.redis) == []
