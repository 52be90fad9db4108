"""Problems, refusals, summaries and histories in the marketer's words: settings by
the labels their component declares, roles by the names the admin shows, merge tags
as "[First name]", "1 day" not "1 days", and histories by the trigger's label and
the step's title — never ``from_address``, ``flow_admin``, ``api.event`` or a step id."""

from __future__ import annotations

import re
from typing import Any

import pytest

from superflow import flows
from superflow import forms
from superflow.flow import parse_flow
from superflow.flow import readiness
from superflow.flow import setting_label
from superflow.registry import load_registry
from superflow.testing import SignedInSession
from superflow.testing import flow_doc
from superflow.testing import started
from superflow.webapp.admin import describe
from superflow.webapp.admin import participants
from superflow.webapp.admin.participants import history_words

INTERNAL = re.compile(r"from_address|\bhtml\b|time_zone|flow_admin|content_editor|api\.event|date_reached")


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_registry()


def test_missing_settings_are_named_by_their_labels(registry):
    doc = flow_doc(
        [{"id": "hello", "type": "send_email", "settings": {"subject": "Hi"}}],
        trigger={"type": "date_reached", "settings": {}},
        timezone="Europe/Oslo",
    )
    problems = readiness(parse_flow(doc, registry), registry)
    assert "Step 1 'Send email': From address is required" in problems
    assert "Step 1 'Send email': Body is required" in problems
    assert any(p.startswith("Trigger 'Date reached': Time zone is required") for p in problems)
    assert not any(INTERNAL.search(p) for p in problems), problems


def test_nested_settings_are_named_part_by_part(registry):
    update = registry.step_type("update_contact")
    assert setting_label(update, "changes[0].field") == "Changes 1, Field"
    follow_up = registry.step_type("create_follow_up")
    assert setting_label(follow_up, "working_hours.end") == "Working hours, To"


def test_the_designer_check_names_labels_over_http(sf_runtime, sf_live_server):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    doc = flow_doc([{"id": "bare", "type": "send_email", "settings": {"subject": "Hi"}}])
    checked = admin.call("/designer/check", {"doc": doc}).json()
    messages = [p["message"] for p in checked["problems"]]
    assert "Step 1 'Send email': From address is required" in messages
    assert not any(INTERNAL.search(m) for m in messages), messages


def test_a_refused_role_is_named_as_the_admin_shows_it(sf_runtime, sf_live_server):
    editor = SignedInSession(sf_runtime, sf_live_server, "content_editor")
    refused = editor.call("/designer/save", {"doc": flow_doc([])})
    assert refused.status_code == 403
    assert "Flow administrator" in refused.text and "flow_admin" not in refused.text


def test_summaries_show_merge_tags_as_labels_and_count_days_right(registry):
    email = {
        "type": "send_email",
        "settings": {
            "from_address": "news@superflow.test",
            "subject": "Hi {{ person.first_name | default('friend') }}",
            "html": "<p>Hello</p>",
        },
    }
    words = describe.component_words(registry, "step_types", email)
    assert "[First name]" in words and "{{" not in words
    one = describe.component_words(registry, "step_types", {"type": "wait", "settings": {"amount": 1}})
    two = describe.component_words(registry, "step_types", {"type": "wait", "settings": {"amount": 2}})
    assert (one, two) == ("Wait 1 day", "Wait 2 days")


def test_a_paused_flow_is_offered_resume_not_a_refused_start(sf_runtime, sf_live_server):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    flow = started(sf_runtime, flow_doc([{"id": "w", "type": "wait", "settings": {"amount": 1}}]))
    sf_runtime.engine.pause(flow.id)
    page = admin.call(f"/flows/{flow.id}/start").text
    assert "resume it" in page and "only a draft can be started" not in page
    design = admin.call(f"/flows/{flow.id}/design").text
    assert f"/flows/{flow.id}/resume" in design, "the designer knows where to resume"
    token = admin.headers["X-CSRF-Token"]
    resumed = admin.post(f"{sf_live_server}/flows/{flow.id}/resume", data={"csrf_token": token}, timeout=10)
    assert resumed.status_code == 200 and "running again" in resumed.text
    assert flows.get(sf_runtime, flow.id).status == "running"


def test_the_form_trigger_offers_the_forms_by_name(sf_runtime, sf_live_server):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    email = {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}
    forms.create(sf_runtime.redis, {"id": "spring", "name": "Spring webinar sign-up", "fields": [email]})
    catalog = admin.call("/designer/catalog.json").json()
    trigger = {c["name"]: c for c in catalog["triggers"]}["form_submitted"]
    assert trigger["schema"]["properties"]["form"]["x-choices"] == "forms"
    offered = admin.call("/designer/choices/forms").json()["choices"]
    assert offered == [{"value": "spring", "label": "Spring webinar sign-up"}]


def test_a_history_names_the_trigger_and_the_steps(sf_runtime, sf_live_server):
    sms = {"id": "sms-3", "type": "send_sms", "name": "Text a hello", "settings": {"text": "Hi"}}
    wait = {"id": "wait-1", "type": "wait", "name": "Give it a day", "settings": {"amount": 1}}
    flow = flows.create(sf_runtime, flow_doc([wait, sms], trigger={"type": "date_reached", "settings": {}}))
    later = flows.update(
        sf_runtime, flow.id, flow_doc([wait], trigger={"type": "date_reached", "settings": {}})
    )
    labels = participants._labels_of_all_versions(sf_runtime, later)
    entries = [
        {"kind": "enrolled", "step": "", "note": "date_reached"},
        {"kind": "event", "step": "wait-1", "note": "api.event"},
        {"kind": "moved", "step": "wait-1", "note": "moved by admin to sms-3"},
        {"kind": "step", "step": "sms-3", "note": "sent"},
    ]
    shown = history_words(sf_runtime, later, entries, labels)
    assert shown[0]["kind_words"] == "Enrolled" and shown[0]["note"] == "Date reached"
    assert shown[1]["note"] == "API event" and shown[1]["step_words"] == "Step 1 'Give it a day'"
    assert shown[2]["note"] == "moved by admin to Step 2 'Text a hello', no longer in the flow"
    assert shown[3]["step_words"] == "Step 2 'Text a hello', no longer in the flow"
    text = " ".join(f"{e['kind_words']} {e['step_words']} {e['note']}" for e in shown)
    assert not INTERNAL.search(text) and "sms-" not in text, text
