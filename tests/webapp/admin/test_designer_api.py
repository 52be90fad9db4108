"""The designer's JSON over real HTTP: the catalogue and CRM choices its forms are
built from, live checks, save and start, the live filter count, previews, test
sends and attachment uploads."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from superflow import flows
from superflow import sms_text
from superflow.plugins.email import attachments_dir
from superflow.plugins.outbox import Outbox
from superflow.testing import SignedInSession
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import started


@pytest.fixture
def admin(sf_runtime, sf_live_server) -> SignedInSession:
    return SignedInSession(sf_runtime, sf_live_server, "flow_admin")


def welcome(selection: str = "1") -> dict[str, Any]:
    return flow_doc(
        [email_step("hello"), {"id": "later", "type": "wait", "settings": {"amount": 3, "unit": "days"}}],
        trigger={"type": "added_to_selection", "settings": {"selection": selection}},
        name="Welcome",
    )


def test_the_catalogue_gives_every_part_with_a_form_schema(admin):
    catalog = admin.call("/designer/catalog.json").json()
    steps = {c["name"]: c for c in catalog["step_types"]}
    assert {"send_email", "send_sms", "wait", "split", "create_follow_up"} <= set(steps)
    email = steps["send_email"]
    assert email["sends"] == "email" and email["category"]
    assert "subject" in email["schema"]["required"]
    props = email["schema"]["properties"]
    assert props["subject"]["x-merge-tags"] is True and props["html"]["x-widget"] == "html"
    assert props["attachments"]["x-upload"] == "/email/attachments"
    assert steps["split"]["branching"] is True
    trigger = {c["name"]: c for c in catalog["triggers"]}["added_to_selection"]
    assert trigger["schema"]["properties"]["selection"]["x-choices"] == "selections"
    assert {"tag": "person.first_name", "label": "First name", "group": "Person"} in catalog["merge_tags"]


def test_the_catalogue_gives_the_servers_text_rules_not_a_copy_in_the_script(admin):
    rules = admin.call("/designer/catalog.json").json()["text_rules"]
    assert set(rules["sms"]["gsm7"]) == sms_text.GSM7
    assert set(rules["sms"]["gsm7_extension"]) == sms_text.GSM7_EXTENSION
    assert rules["sms"]["limits"] == {"GSM-7": [160, 153], "UCS-2": [70, 67]}
    assert re.sub(rules["sms"]["merge_tag"]["source"], "", "Hi {{ person.first_name }}!") == "Hi !"
    tag = re.search(rules["merge_tag"]["source"], "Dear [[person.firstname]],")
    assert tag and (tag.group(1) or tag.group(2)) == "person.firstname"
    steps = {c["name"]: c for c in admin.call("/designer/catalog.json").json()["step_types"]}
    assert steps["send_sms"]["schema"]["properties"]["text"]["x-widget"] == "sms"
    assert steps["send_email"]["content"] == [
        "subject",
        "preheader",
        "body",
        "design",
        "library_email",
        "html",
        "text",
        "attachments",
    ]


def test_the_built_in_widgets_load_from_their_plugins_before_the_designer(admin):
    page = admin.call("/flows/new/design").text
    scripts = re.findall(r'<script (?:type="module" )?src="([^"]+)"', page)
    assert scripts[-1] == "/static/designer/main.js"
    assert {
        "/plugins/sms/static/sms.js",
        "/plugins/email/static/email.js",
        "/plugins/selections/static/selections.js",
        "/plugins/flow_control/static/flow_control.js",
    } <= set(scripts[:-1])
    for src in scripts:
        served = admin.call(src)
        assert served.status_code == 200 and "javascript" in served.headers["Content-Type"], src
    assert 'from "/static/designer/widgets.js"' in admin.call("/plugins/sms/static/sms.js").text


def test_choices_come_from_the_crm(admin, crm):
    crm.create_selection("Newsletter subscribers")
    found = admin.call("/designer/choices/selections").json()["choices"]
    assert {"value": "1", "label": "Newsletter subscribers"} in found
    fields = {c["value"] for c in admin.call("/designer/choices/person_fields").json()["choices"]}
    assert {"email", "first_name", "company.category"} <= fields
    unknown = admin.call("/designer/choices/planets")
    assert unknown.status_code == 404 and "planets" in unknown.json()["errors"][0]["message"]


def test_check_names_unknown_merge_tags_missing_settings_and_warnings(admin, sf_runtime):
    doc = welcome()
    doc["steps"][0]["settings"]["subject"] = "Hi {{ person.shoe_size }}"
    reply = admin.call("/designer/check", {"doc": doc})
    assert reply.status_code == 200, reply.text[-3000:]
    checked = reply.json()
    assert checked["unknown_merge_tags"] == [
        {
            "step_id": "hello",
            "field": "subject",
            "path": "steps[0].settings.subject",
            "tag": "person.shoe_size",
        }
    ]

    doc = welcome()
    doc["steps"].append({"id": "bare", "type": "send_email", "settings": {}})
    doc["steps"].append(
        {
            "id": "opened",
            "type": "wait_for_action",
            "settings": {"action": "email.opened", "step": "quiet", "timeout_days": 2},
        }
    )
    doc["steps"].append(email_step("quiet", tracking=False))
    doc["steps"].append(
        {
            "id": "fork",
            "type": "split",
            "settings": {},
            "branches": [
                {"name": "A", "condition": {"type": "email_action", "settings": {"action": "email.opened"}}},
                {"name": "B", "condition": {"type": "email_action", "settings": {"action": "email.opened"}}},
            ],
            "everyone_else": [],
        }
    )
    running = started(sf_runtime, welcome())
    itself = admin.call("/designer/check", {"flow_id": running.id, "doc": welcome()}).json()
    same = [w for w in itself["warnings"] if "same condition" in w["message"]]
    assert same == [], "a running flow does not start on the same condition as itself"
    checked = admin.call("/designer/check", {"doc": doc}).json()
    assert checked["errors"] == []
    assert any(p["step_id"] == "bare" and "Subject is required" in p["message"] for p in checked["problems"])
    messages = {(w["step_id"], w["message"]) for w in checked["warnings"]}
    assert any(sid == "opened" and "tracking off" in m for sid, m in messages)
    assert any(sid == "fork" and "branch 2 can never be reached" in m for sid, m in messages)
    assert any(
        sid == "hello" and "should have an unsubscribe link and your postal address" in m
        for sid, m in messages
    )
    assert any(
        sid is None and "flow 'Welcome' (running) starts on the same condition" in m for sid, m in messages
    )


def test_save_keeps_versions_and_refuses_bad_documents_whole(admin, sf_runtime):
    made = admin.call("/designer/save", {"flow_id": None, "doc": welcome()})
    assert made.status_code == 200
    flow_id = made.json()["flow_id"]
    assert made.json()["version"] == 1 and made.json()["url"] == f"/flows/{flow_id}/design"

    doc = welcome()
    doc["steps"].append({"id": "later2", "type": "wait", "settings": {}})
    again = admin.call("/designer/save", {"flow_id": flow_id, "doc": doc}).json()
    assert again["version"] == 2
    assert any(p["step_id"] == "later2" for p in again["problems"]), "an unfinished step saves, as a problem"

    doc["steps"][0]["settings"]["subject"] = "Hi {{ person.shoe_size }}"
    kept = admin.call("/designer/save", {"flow_id": flow_id, "doc": doc})
    assert kept.status_code == 200, "an unknown merge tag is a problem: the draft saves"
    assert any(
        p["step_id"] == "hello" and "unknown merge tag {{ person.shoe_size }}" in p["message"]
        for p in kept.json()["problems"]
    )
    doc["steps"][0]["settings"]["from_address"] = "not an address"
    refused = admin.call("/designer/save", {"flow_id": flow_id, "doc": doc})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "steps[0].settings.from_address"
    assert flows.get(sf_runtime, flow_id).version == 3, "nothing stored"

    start = admin.call("/designer/start", {"flow_id": flow_id})
    assert start.status_code == 409 and any(p["step_id"] == "later2" for p in start.json()["problems"])
    doc = welcome()
    assert admin.call("/designer/save", {"flow_id": flow_id, "doc": doc}).status_code == 200
    assert admin.call("/designer/start", {"flow_id": flow_id}).json()["status"] == "running"
    retitled = welcome()
    retitled["steps"][0]["settings"]["subject"] = "Welcome, {{ person.first_name }}!"
    assert admin.call("/designer/save", {"flow_id": flow_id, "doc": retitled}).status_code == 200
    retitled["reenrollment"] = "after_end"
    running = admin.call("/designer/save", {"flow_id": flow_id, "doc": retitled})
    assert running.status_code == 409 and "pause it" in running.json()["errors"][0]["message"]


def test_the_live_count_matches_the_crm(admin, crm, people):
    other = crm.create_company(name="Elsewhere AS", category="Prospect")
    crm.create_person(first_name="Ola", last_name="Nord", email="ola@example.com", company_id=other["id"])
    everyone = admin.call("/designer/count", {"filters": {"op": "and", "conditions": []}}).json()
    assert everyone == {"count": 6, "total": 6, "exact": True}
    customers = {
        "op": "and",
        "conditions": [
            {
                "type": "field",
                "settings": {"field": "company.category", "operator": "equals", "value": "Customer"},
            }
        ],
    }
    assert admin.call("/designer/count", {"filters": customers}).json()["count"] == 5
    bad = admin.call("/designer/count", {"filters": {"op": "and", "conditions": [{"type": "nope"}]}})
    assert bad.status_code == 422 and "nope" in bad.json()["errors"][0]["message"]


def test_preview_and_send_test_work_on_unsaved_settings(admin, sf_runtime, people):
    step = {
        "type": "send_email",
        "settings": email_step("x", subject="News for {{ person.first_name }}")["settings"],
    }
    shown = admin.call("/designer/preview", {"step": step, "person_id": people[0]}).json()
    [message] = shown["content"]
    assert message["subject"] == "News for Ada" and "Fjord Analytics AS" in message["html"]
    assert message["text"], "the plain-text part is made from the HTML"
    unknown = admin.call("/designer/preview", {"step": step, "person_id": "999"})
    assert unknown.status_code == 422 and "999" in unknown.json()["errors"][0]["message"]

    sent = admin.call("/designer/send-test", {"step": step, "person_id": people[0], "to": "me@example.com"})
    assert sent.status_code == 200, sent.text
    outbox = Outbox(sf_runtime.config)
    assert [m["subject"] for m in outbox.page(None, "me@example.com", 0, 10)] == ["[Test] News for Ada"]
    bad = admin.call("/designer/send-test", {"step": step, "person_id": people[0], "to": "not an address"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"


def test_attachments_upload_with_the_limit_on_the_server(admin, sf_runtime, sf_live_server):
    small = admin.post(
        sf_live_server + "/email/attachments", files={"file": ("price list.pdf", b"%PDF-1.4 tiny")}
    )
    assert small.json() == {"name": "price list.pdf", "path": "price_list.pdf", "size": 13}
    assert (attachments_dir(sf_runtime.config) / "price_list.pdf").read_bytes() == b"%PDF-1.4 tiny"

    big = admin.post(
        sf_live_server + "/email/attachments?name=video.mp4",
        files={"file": ("video.mp4", b"0" * (26 * 1024 * 1024))},
    )
    assert big.status_code == 413
    message = big.json()["errors"][0]["message"]
    assert "video.mp4 is 26.0 MB" in message and "25.0 MB" in message
    assert not (attachments_dir(sf_runtime.config) / "video.mp4").exists()

    forged = requests.post(
        sf_live_server + "/email/attachments",
        files={"file": ("a.txt", b"x")},
        cookies=admin.cookies,
        timeout=5,
    )
    assert forged.status_code == 400, "no CSRF token, no upload"
    viewer = SignedInSession(sf_runtime, sf_live_server, "viewer")
    assert (
        viewer.post(sf_live_server + "/email/attachments", files={"file": ("a.txt", b"x")}).status_code == 403
    )


def test_the_designer_page_and_roles(admin, sf_runtime, sf_live_server):
    flow = started(sf_runtime, welcome())
    page = admin.call(f"/flows/{flow.id}/design")
    boot = re.search(r'<script type="application/json" id="designer-boot">(.+?)</script>', page.text, re.S)
    assert boot and '"read_only": true' in boot.group(1) and "Pause it to edit" in boot.group(1)
    assert admin.call("/flows/new/design").status_code == 200
    viewer = SignedInSession(sf_runtime, sf_live_server, "viewer")
    assert viewer.call("/flows/new/design").status_code == 403
    assert viewer.call("/designer/save", {"flow_id": None, "doc": welcome()}).status_code == 403
    persons = admin.call("/designer/persons").json()["persons"]
    assert persons == [] or {"id", "name", "email"} == set(persons[0])
