"""Flow documents: what saving accepts, what it refuses, and what starting needs."""

from __future__ import annotations

import json

import pytest

from superflow import flows
from superflow.flow import FlowInvalid
from superflow.flow import FlowNotReady
from superflow.flow import parse_flow
from superflow.flow import readiness
from superflow.registry import load_registry
from superflow.testing import email_step
from superflow.testing import flow_doc


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def errors_of(raw, registry):
    with pytest.raises(FlowInvalid) as info:
        parse_flow(raw, registry)
    return {e["field"]: e["message"] for e in info.value.errors}


def test_a_draft_with_missing_settings_saves_but_cannot_start(registry):
    doc = flow_doc(
        [
            {"id": "s1", "type": "wait", "settings": {}},
            {"id": "s2", "type": "update_contact", "settings": {}},
            {"id": "s3", "type": "send_email", "settings": {"from_address": "a@b.example"}},
        ]
    )
    flow = parse_flow(doc, registry)
    assert readiness(flow, registry) == [
        "Step 1 'Wait': say how long to wait (Wait for) or until when (Or wait until)",
        "Step 2 'Update contact': Changes is required",
        "Step 3 'Send email': Subject is required",
        "Step 3 'Send email': Body is required",
    ]


def test_starting_is_refused_with_the_whole_list(sf_runtime):
    doc = flow_doc(
        [{"id": "s1", "type": "send_sms", "settings": {}}],
        trigger={"type": "added_to_selection", "settings": {}},
    )
    flow = flows.create(sf_runtime, doc)
    with pytest.raises(FlowNotReady) as info:
        flows.start(sf_runtime, flow.id)
    assert info.value.problems == [
        "Trigger 'Added to selection': Selection is required",
        "Step 1 'Send SMS': Sender is required",
        "Step 1 'Send SMS': Text is required",
    ]
    assert flows.get(sf_runtime, flow.id).status == "draft"


def test_unknown_types_wrong_types_and_unknown_keys_are_named(registry):
    doc = flow_doc(
        [
            {"id": "s1", "type": "send_fax", "settings": {}},
            {"id": "s2", "type": "wait", "settings": {"amount": "soon"}},
            {"id": "s3", "type": "wait", "settings": {"amount": 1, "colour": "red"}},
        ],
        trigger={"type": "moon_phase", "settings": {}},
        priority="high",
    )
    errors = errors_of(doc, registry)
    assert errors["priority"] == "Unknown field."
    assert errors["trigger.type"].startswith("unknown trigger 'moon_phase' (installed: ")
    assert errors["steps[0].type"].startswith("unknown step type 'send_fax'")
    assert errors["steps[1].settings.amount"] == "Not a valid integer."
    assert errors["steps[2].settings.colour"] == "Unknown field."


def test_a_split_without_branches_and_duplicate_ids_are_errors(registry):
    doc = flow_doc([{"id": "s1", "type": "split", "settings": {}}, email_step("s1")])
    errors = errors_of(doc, registry)
    assert errors["steps[0].branches"] == "a Split step needs at least one branch"
    assert errors["steps[1].id"] == "step id 's1' is used twice"


def test_malformed_documents_get_one_clear_error(registry):
    (message,) = errors_of("{not json", registry).values()
    assert message.startswith("not valid JSON: Expecting property name enclosed in double quotes")
    assert errors_of("[]", registry) == {"(document)": "a flow must be a JSON object"}
    assert errors_of({"steps": []}, registry) == {"name": "Missing data for required field."}
    assert "format_version" in errors_of({"name": "x", "format_version": 2}, registry)


def test_unknown_merge_tags_save_as_a_draft_and_block_start_naming_step_field_and_tag(sf_runtime):
    sf_runtime.crm.define_field("nickname", "Nickname", "text")
    doc = flow_doc(
        [email_step("e1", subject="Hi {{ person.nickname }}", html="{{ shoe_size }} [[company.colour]]")]
    )
    draft = flows.create(sf_runtime, doc)
    with pytest.raises(FlowNotReady) as info:
        flows.start(sf_runtime, draft.id)
    unknown = {p for p in info.value.problems if "unknown merge tag" in p}
    assert unknown == {
        "Step 1 'Send email': Body: unknown merge tag {{ shoe_size }}",
        "Step 1 'Send email': Body: unknown merge tag {{ company.colour }}",
    }, "the CRM's extra field nickname is known"
    assert flows.get(sf_runtime, draft.id).status == "draft"


def test_broken_merge_syntax_is_refused_even_without_a_crm(registry):
    errors = errors_of(flow_doc([email_step("e1", subject="Hi {{ person.first_name ")]), registry)
    assert errors["steps[0].settings.subject"].startswith("merge tags: unexpected end of template")


def test_wait_for_action_must_point_at_real_steps(registry):
    doc = flow_doc(
        [
            {
                "id": "w",
                "type": "wait_for_action",
                "settings": {"action": "email.opened", "step": "nope", "on_timeout": "goto"},
            }
        ]
    )
    assert readiness(parse_flow(doc, registry), registry) == [
        "Step 1 'Wait for action': In the email of step: there is no step 'nope' in this flow",
        "Step 1 'Wait for action': Go to step is required: choose the step to go to when nothing happened",
    ]


def test_saving_a_bad_update_keeps_the_stored_flow(sf_runtime):
    flow = flows.create(sf_runtime, flow_doc([email_step("e1")], name="Kept"))
    with pytest.raises(FlowInvalid):
        flows.update(sf_runtime, flow.id, {"name": "Broken", "steps": [{"id": "x", "type": "nope"}]})
    again = flows.get(sf_runtime, flow.id)
    assert again.name == "Kept" and again.version == 1


def test_export_import_round_trip_is_lossless(sf_runtime):
    with open("examples/webinar-follow-up.json") as fh:
        original = json.load(fh)
    first = flows.create(sf_runtime, original)
    exported = flows.export(sf_runtime, first.id)
    second = flows.create(sf_runtime, json.dumps(exported))
    assert flows.export(sf_runtime, second.id) == exported
    assert keeps_everything(exported, original)


def keeps_everything(exported, original):
    """Every value of the original is in the export (defaults may be added)."""
    if isinstance(original, dict):
        return all(
            key in exported and keeps_everything(exported[key], value) for key, value in original.items()
        )
    if isinstance(original, list):
        return len(exported) == len(original) and all(map(keeps_everything, exported, original))
    return exported == original
