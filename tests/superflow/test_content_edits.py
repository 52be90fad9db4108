"""Fixing a running flow's text: either role changes content (texts, subjects,
attachments) without pausing; the next sends use it; nothing else changes unpaused."""

from __future__ import annotations

import pytest

from superflow import flows
from superflow.flow import FlowInvalid
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "pause", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def drip() -> dict:
    return flow_doc(
        [email_step("welcome", subject="Welcome"), WAIT, email_step("tips", subject="Three tips fro you")],
        name="Drip",
    )


def subjects(rt) -> list[str]:
    return sorted(m["subject"] for m in Outbox(rt.config).messages("email"))


def test_a_typo_fixed_while_the_flow_runs_reaches_the_next_emails(sf_runtime, sf_run_jobs, crm):
    rt = sf_runtime
    ada = crm.create_person(first_name="Ada", email="ada@example.com")["id"]
    crm.set_consent(ada, "emarketing", True)
    flow = started(rt, drip())
    signed_up(rt, ada)
    sf_run_jobs()
    assert participant_of(rt, flow, ada).step == "pause"

    fixed = flows.update_content(rt, flow.id, "tips", {"subject": "Three tips for you"}, by="editor")
    assert fixed.status == "running" and fixed.version == 2
    rt.clock.advance(86400 + 1)
    sf_run_jobs()
    assert subjects(rt) == ["Three tips for you", "Welcome"]
    assert participant_of(rt, flow, ada).status == "completed"


def test_a_running_flow_takes_a_whole_document_whose_content_alone_differs(sf_runtime):
    rt = sf_runtime
    flow = started(rt, drip())
    doc = drip()
    doc["steps"][2]["settings"]["subject"] = "Three tips for you"
    assert flows.update(rt, flow.id, doc).version == 2

    doc["steps"][1]["settings"]["amount"] = 2
    with pytest.raises(flows.FlowStateError, match="pause it before changing more than its texts"):
        flows.update(rt, flow.id, doc)
    assert flows.get(rt, flow.id).version == 2, "the refused change stored nothing"


def test_only_content_goes_through_the_content_edit(sf_runtime):
    rt = sf_runtime
    flow = started(rt, drip())
    with pytest.raises(FlowInvalid) as refused:
        flows.update_content(rt, flow.id, "tips", {"from_address": "other@example.com", "subject": "Hi"})
    assert [e["field"] for e in refused.value.errors] == ["from_address"]
    with pytest.raises(FlowInvalid) as unknown_tag:
        flows.update_content(rt, flow.id, "tips", {"subject": "Hi {{ person.shoe_size }}"})
    assert "shoe_size" in str(unknown_tag.value)
    assert flows.get(rt, flow.id).version == 1
