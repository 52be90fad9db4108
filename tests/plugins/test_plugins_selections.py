"""Selections: the trigger, the membership filter, the steps and the success
criterion, on selections changed in the CRM by the flow or by a colleague."""

from __future__ import annotations

from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def test_added_to_selection_enrols_the_new_members(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    newsletter = crm.create_selection("Newsletter")["id"]
    other = crm.create_selection("Other")["id"]
    flow = started(
        rt, flow_doc([WAIT], trigger={"type": "added_to_selection", "settings": {"selection": newsletter}})
    )
    crm.add_to_selection(newsletter, people[:2])
    crm.add_to_selection(other, people[2:3])
    sf_run_jobs()
    assert {pid for pid in people if participant_of(rt, flow, pid)} == set(people[:2])


def test_member_filter_and_the_add_and_remove_steps(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    vip = crm.create_selection("VIP")["id"]
    hot = crm.create_selection("Hot leads")["id"]
    cold = crm.create_selection("Cold")["id"]
    crm.add_to_selection(vip, people[:2])
    crm.add_to_selection(cold, people)
    steps = [
        {"id": "add", "type": "add_to_selection", "settings": {"selection": hot}},
        {"id": "remove", "type": "remove_from_selection", "settings": {"selection": cold}},
    ]
    filters = {"op": "and", "conditions": [{"type": "in_selection", "settings": {"selection": vip}}]}
    started(rt, flow_doc(steps, filters=filters))
    signed_up(rt, *people)
    sf_run_jobs()
    assert crm.selection_members(hot) == people[:2]
    assert crm.selection_members(cold) == people[2:]


def test_added_to_selection_is_success_whoever_added_them(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    customers = crm.create_selection("Customers")["id"]
    crm.add_to_selection(customers, people[2:3])
    success = {"criteria": [{"type": "added_to_selection", "settings": {"selection": customers}}]}
    flow = started(rt, flow_doc([WAIT], success=success))
    signed_up(rt, *people[:3])
    sf_run_jobs()
    p = participant_of(rt, flow, people[2])
    assert p.status == "succeeded" and p.reason == "success criteria met", "already a member"
    crm.add_to_selection(customers, people[:1])  # a colleague in the CRM
    sf_run_jobs()
    p = participant_of(rt, flow, people[0])
    assert p.status == "succeeded" and p.reason == "success: selection.member_added"
    assert participant_of(rt, flow, people[1]).status == "active"


def test_success_in_the_triggering_selection_is_refused(sf_runtime, crm):
    newsletter = crm.create_selection("Newsletter")["id"]
    doc = flow_doc(
        [WAIT],
        trigger={"type": "added_to_selection", "settings": {"selection": newsletter}},
        success={"criteria": [{"type": "added_to_selection", "settings": {"selection": newsletter}}]},
    )
    assert refused_start(sf_runtime, doc) == [
        "Success criterion 'Added to selection': Selection: the trigger enrols the members of this"
        " selection, so everyone would succeed at once; choose another selection"
    ]
