"""The content library over the admin's HTTP routes: content editors and flow
administrators create, save, duplicate and delete; viewers only look; a linked step
sends the library email as it is at each send; an email in use cannot be deleted."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from superflow.plugins.email.library import Library
from superflow.plugins.outbox import Outbox
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started
from superflow.testing.signing_in import csrf_token

FOOTER = {"type": "footer", "address": "Box 1, 0101 Oslo"}


@pytest.fixture
def sf_config(sf_config):
    return replace(sf_config, sender_address="Nordlys AS, Storgata 1, 0155 Oslo")


def linked_step(email_id: str) -> dict:
    return {
        "id": "news",
        "type": "send_email",
        "settings": {
            "from_address": "news@superflow.test",
            "subject": "News",
            "body": "library",
            "library_email": email_id,
        },
    }


def made(client, starter: str = "welcome", name: str = "Welcome letter") -> str:
    page = client.get("/email/library")
    answer = client.post(
        "/email/library",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "starter": starter, "name": name},
    )
    assert answer.status_code == 302
    return re.search(r"/email/library/(\d+)$", answer.headers["Location"]).group(1)


def save(client, email_id: str, body: dict):
    page = client.get(f"/email/library/{email_id}")
    return client.post(
        f"/email/library/{email_id}/save",
        json=body,
        headers={"X-CSRF-Token": csrf_token(page.get_data(as_text=True))},
    )


def test_an_editor_makes_an_email_from_a_template_and_saves_it(sf_signed_in):
    editor = sf_signed_in("content_editor")
    email_id = made(editor)
    assert editor.get(f"/email/library/{email_id}.json").json["email"]["name"] == "Welcome letter"
    answer = save(
        editor, email_id, {"name": "Welcome", "design": {"blocks": [{"type": "text", "html": "Hi"}]}}
    )
    assert answer.status_code == 200
    assert answer.json["problems"] == [
        "a marketing email needs a footer block with the unsubscribe link and your postal address:"
        " add a Footer block"
    ]
    listed = editor.get("/email/library.json").json["emails"]
    assert [e["name"] for e in listed] == ["Welcome"]


def test_a_bad_design_is_refused_naming_the_block_and_nothing_is_stored(sf_signed_in):
    editor = sf_signed_in("content_editor")
    email_id = made(editor)
    before = editor.get(f"/email/library/{email_id}.json").json["email"]
    answer = save(
        editor, email_id, {"name": "X", "design": {"blocks": [{"type": "image", "src": "javascript:x"}]}}
    )
    assert answer.status_code == 422
    assert answer.json["errors"] == [
        {"field": "design", "message": "Block 1 (Image), Image address: must start with https:// or http://"}
    ]
    assert save(editor, email_id, {"name": "", "design": before["design"]}).json["errors"][0]["message"] == (
        "give the email a name"
    )
    assert save(editor, email_id, ["not", "an", "object"]).status_code == 400
    assert editor.get(f"/email/library/{email_id}.json").json["email"] == before


def test_a_viewer_looks_but_cannot_change(sf_signed_in):
    email_id = made(sf_signed_in("flow_admin"))
    viewer = sf_signed_in("viewer")
    page = viewer.get(f"/email/library/{email_id}")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    assert viewer.post("/email/library", data={"csrf_token": token, "starter": "welcome"}).status_code == 403
    denied = viewer.post(
        f"/email/library/{email_id}/save",
        json={"name": "Mine", "design": {}},
        headers={"X-CSRF-Token": token},
    )
    assert denied.status_code == 403
    assert viewer.post(f"/email/library/{email_id}/delete", data={"csrf_token": token}).status_code == 403
    assert viewer.get(f"/email/library/{email_id}.json").json["email"]["name"] == "Welcome letter"


def test_a_linked_step_sends_the_library_email_as_it_is_at_each_send(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    library = Library(rt)
    email = library.create("Welcome", {"blocks": [{"type": "text", "html": "First"}, FOOTER]}, "editor")
    flow = started(rt, flow_doc([linked_step(email["id"])]))
    signed_up(rt, people[0])
    sf_run_jobs()
    library.update(email["id"], "Welcome", {"blocks": [{"type": "text", "html": "Second"}, FOOTER]}, "editor")
    signed_up(rt, people[1])
    sf_run_jobs()
    assert participant_of(rt, flow, people[1]).status == "completed"
    sent = {m["recipient"]: m["html"] for m in Outbox(rt.config).messages("email", limit=10)}
    [first, second] = [sent[rt.crm.get_person(p)["email"].lower()] for p in people[:2]]
    assert "First" in first and "Second" not in first
    assert "Second" in second and "Box 1, 0101 Oslo" in second


def test_an_email_a_flow_uses_is_not_deleted_and_the_list_says_which_flow(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin")
    email_id = made(admin)
    started(sf_runtime, flow_doc([linked_step(email_id)], name="Spring campaign"))
    page = admin.get("/email/library")
    assert "Spring campaign" in page.get_data(as_text=True)
    answer = admin.post(
        f"/email/library/{email_id}/delete", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert answer.status_code == 303
    listing = admin.get("/email/library").get_data(as_text=True)
    assert "was not deleted: this email is used by the flows Spring campaign" in listing
    assert admin.get(f"/email/library/{email_id}.json").status_code == 200


def test_a_copy_is_independent_and_an_unused_email_can_be_deleted(sf_signed_in):
    editor = sf_signed_in("content_editor")
    email_id = made(editor)
    page = editor.get("/email/library")
    copied = editor.post(
        f"/email/library/{email_id}/duplicate", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    copy_id = re.search(r"/email/library/(\d+)$", copied.headers["Location"]).group(1)
    assert editor.get(f"/email/library/{copy_id}.json").json["email"]["name"] == "Copy of Welcome letter"
    answer = editor.post(
        f"/email/library/{email_id}/delete", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert answer.status_code == 303
    assert editor.get(f"/email/library/{email_id}.json").status_code == 404
    assert editor.get(f"/email/library/{copy_id}.json").status_code == 200


def test_a_step_whose_library_email_is_gone_cannot_start(sf_runtime):
    from superflow.testing import refused_start

    assert refused_start(sf_runtime, flow_doc([linked_step("99")])) == [
        "Step 1 'Send email': Library email: the library has no email 99 any more; choose another"
    ]


def test_the_render_endpoint_shows_the_design_and_its_problems(sf_signed_in):
    viewer = sf_signed_in("viewer")
    token = csrf_token(viewer.get("/email/library").get_data(as_text=True))
    answer = viewer.post(
        "/email/render",
        json={"design": {"blocks": [{"type": "text", "html": "<p>Hello</p>"}, FOOTER]}},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 200
    assert "Hello" in answer.json["html"] and "#unsubscribe" in answer.json["html"]
    assert answer.json["problems"] == []
    bad = viewer.post("/email/render", json={"design": []}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 422
    assert bad.json["errors"][0]["message"] == "a design must be an object with its blocks"
