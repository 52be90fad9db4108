"""End-to-end: events enrol persons, a worker runs steps, waits end with time."""

from __future__ import annotations

from superflow.events import Event
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started


def test_selection_trigger_runs_update_email_wait_sms(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    newsletter = crm.create_selection("Newsletter")["id"]
    crm.define_field("score", "Score", "number")
    flow = started(
        rt,
        flow_doc(
            [
                {
                    "id": "score",
                    "type": "update_contact",
                    "settings": {"changes": [{"field": "score", "action": "add", "value": 5}]},
                },
                email_step("welcome"),
                {"id": "pause", "type": "wait", "settings": {"amount": 3, "unit": "days"}},
                {
                    "id": "sms",
                    "type": "send_sms",
                    "settings": {"sender": "Superflow", "text": "Hi {{person.first_name}}!"},
                },
            ],
            trigger={"type": "added_to_selection", "settings": {"selection": newsletter}},
        ),
    )
    crm.add_to_selection(newsletter, people[:3])
    sf_run_jobs()

    outbox = Outbox(rt.config)
    assert outbox.count("email") == 3
    assert outbox.count("sms") == 0
    mail = outbox.messages("email")[-1]
    assert mail["subject"] == "Hello Ada"
    assert "Fjord Analytics AS" in mail["html"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert crm.get_person(people[0])["fields"]["score"] == 5
    stats = rt.store.stats(flow.id)
    assert stats["enrolled"] == 3 and stats["active"] == 3 and stats["at:pause"] == 3

    rt.clock.advance(3 * 86400 + 1)
    sf_run_jobs()
    assert outbox.count("sms") == 3
    assert {m["text"] for m in outbox.messages("sms")} == {"Hi Ada!", "Hi Bjørn!", "Hi Cecilie!"}
    stats = rt.store.stats(flow.id)
    assert stats["completed"] == 3 and stats["active"] == 0
    assert stats["passed:sms"] == 3 and stats["step:welcome:email.sent"] == 3
    history = rt.store.history(f"{flow.id}.1")
    assert [h["kind"] for h in history] == ["enrolled", "step", "step", "step", "step", "completed"]


def test_event_for_unknown_person_enrols_nobody(sf_runtime, sf_run_jobs, people):
    flow = started(sf_runtime, flow_doc([email_step("e1")]))
    sf_runtime.emit([Event("api.event", "999999", {"name": "signed_up"})])
    sf_runtime.emit([Event("api.event", people[0], {"name": "signed_up"})])
    sf_run_jobs()
    assert sf_runtime.store.stats(flow.id)["enrolled"] == 1


def test_step_counts_stay_true_when_participants_finish(sf_runtime, sf_run_jobs, people):
    """The Flow tab's "here now" is ``at:<step>``: it must come back to zero, not below,
    when participants go past the last step or exit at one."""
    flow = started(sf_runtime, flow_doc([email_step("hello"), email_step("again")]))
    crm = sf_runtime.crm
    crm.set_consent(people[1], "emarketing", False)
    signed_up(sf_runtime, people[0], people[1])
    sf_run_jobs()
    stats = sf_runtime.store.stats(flow.id)
    assert stats["completed"] == 1 and stats["exited"] == 1
    assert stats.get("at:hello", 0) == 0 and stats.get("at:again", 0) == 0
    assert stats["passed:hello"] == 1 and stats["passed:again"] == 1
