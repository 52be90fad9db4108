"""The notify plugin: tell a colleague about a participant by email or SMS, through
the engine and the outbox."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from superflow.events import Event
from superflow.plugins.outbox import Outbox
from superflow.testing import crash_after_effects
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 3, "unit": "days"}}


@pytest.fixture
def office(crm):
    kari = crm.create_associate("Kari Nordmann", email="kari@superflow.test", mobile="+4791111111")["id"]
    ola = crm.create_associate("Ola Hansen", email="ola@superflow.test")["id"]
    fjord = crm.create_company("Fjord Analytics AS", our_contact=kari, our_service_contact=ola)
    ada = crm.create_person(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        mobile="+4790000000",
        company_id=fjord["id"],
    )["id"]
    crm.set_consent(ada, "emarketing", False)  # internal notifications need no consent
    solo = crm.create_person(first_name="Solo")["id"]
    return SimpleNamespace(kari=kari, ola=ola, ada=ada, solo=solo)


def email_step(step_id="tell", **settings):
    return {
        "id": step_id,
        "type": "notify_by_email",
        "settings": {
            "subject": "{{ person.full_name }} signed up in {{ flow.name }}",
            "body": "Company: {{ company.name }}\nMobile: {{ person.mobile }}",
            **settings,
        },
    }


def sms_step(step_id="text", **settings):
    return {
        "id": step_id,
        "type": "notify_by_sms",
        "settings": {
            "sender": "Superflow",
            "text": "Call {{ person.first_name }} on {{ person.mobile }}",
            **settings,
        },
    }


def step_notes(rt, participant):
    return {h["step"]: h["note"] for h in rt.store.history(participant.id) if h["kind"] == "step"}


def test_notify_by_email_tells_our_contact(sf_runtime, sf_run_jobs, office):
    rt = sf_runtime
    flow = started(rt, flow_doc([email_step(from_address="crm@fjord.test")], name="Webinar"))
    signed_up(rt, office.ada)
    sf_run_jobs()

    (message,) = Outbox(rt.config).messages("email")
    assert message["recipient"] == "kari@superflow.test"
    assert message["sender"] == "Superflow <crm@fjord.test>"
    assert message["subject"] == "Ada Lovelace signed up in Webinar"
    assert message["text"] == "Company: Fjord Analytics AS\nMobile: +4790000000"
    assert message["html"] == "<p>Company: Fjord Analytics AS<br>Mobile: +4790000000</p>"
    assert "List-Unsubscribe" not in message["headers"]
    p = participant_of(rt, flow, office.ada)
    assert p.status == "completed"
    assert step_notes(rt, p) == {"tell": "told Kari Nordmann (kari@superflow.test) by email"}
    assert p.last_sending is None  # a message to a colleague is not a sending to the person
    stats = rt.store.stats(flow.id)
    assert stats["notify.email.sent"] == 1 and "email.sent" not in stats


def test_notify_by_sms_and_who_cannot_be_told(sf_runtime, sf_run_jobs, office):
    rt = sf_runtime
    steps = [
        sms_step("to_kari"),
        sms_step("to_ola", recipient={"rule": "our_service_contact"}),
        email_step("to_named", recipient={"rule": "associate", "associate": office.ola}, subject="Named"),
        email_step("strict", recipient={"rule": "our_service_contact", "fallback": "exit"}, subject="Strict"),
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, office.ada, office.solo)
    sf_run_jobs()

    (sms,) = Outbox(rt.config).messages("sms")
    assert (sms["recipient"], sms["sender"], sms["text"]) == (
        "+4791111111",
        "Superflow",
        "Call Ada on +4790000000",
    )
    emails = [(m["recipient"], m["subject"]) for m in Outbox(rt.config).messages("email")]
    assert sorted(emails) == [
        ("ola@superflow.test", "Named"),
        ("ola@superflow.test", "Named"),
        ("ola@superflow.test", "Strict"),
    ]
    ada = participant_of(rt, flow, office.ada)
    assert ada.status == "completed"
    assert step_notes(rt, ada)["to_ola"] == "nobody notified: Ola Hansen has no mobile number"
    solo = participant_of(rt, flow, office.solo)
    notes = step_notes(rt, solo)
    assert notes["to_kari"] == "nobody notified: the person has no company"
    assert notes["to_named"] == "told Ola Hansen (ola@superflow.test) by email"
    assert solo.status == "exited"
    assert solo.reason == "nobody notified: no our service contact: the person has no company"
    assert rt.store.stats(flow.id)["notify.skipped"] == 3


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_running_the_step_again_after_a_crash_sends_one_message(
    sf_runtime, sf_run_jobs, office, monkeypatch, channel
):
    rt = sf_runtime
    step = email_step() if channel == "email" else sms_step()
    flow = started(rt, flow_doc([step, WAIT]))
    rt.engine.handle_events([Event("api.event", office.ada, {"name": "signed_up"})])
    pid = participant_of(rt, flow, office.ada).id

    crash_after_effects(rt, [pid])
    assert Outbox(rt.config).count(channel) == 1  # handed over; the step was not recorded

    rt.engine.advance([pid])
    sf_run_jobs()
    assert Outbox(rt.config).count(channel) == 1
    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)[f"notify.{channel}.sent"] == 1


def test_settings_are_checked_with_the_field_named(sf_runtime):
    rt = sf_runtime
    invalid = refused_save(
        rt,
        flow_doc(
            [
                email_step(from_address="not an address", recipient={"rule": "unassigned"}),
                sms_step(sender="A sender that is far too long", text="{{ our_contact.shoe }}"),
            ]
        ),
    )
    assert {(e["field"], e["message"]) for e in invalid} == {
        ("steps[0].settings.from_address", "Not a valid email address."),
        ("steps[0].settings.recipient.rule", "Must be one of: our_contact, our_service_contact, associate."),
        ("steps[1].settings.sender", "a number or up to 11 letters and digits"),
    }, "an unknown merge tag is a problem for start, not an error (drafts save)"
    assert refused_start(
        rt,
        flow_doc(
            [
                {"id": "a", "type": "notify_by_email", "settings": {"body": "Hi"}},
                sms_step(recipient={"rule": "our_contact", "fallback": "associate"}),
            ]
        ),
    ) == [
        "Step 1 'Notify colleague by email': Subject is required",
        "Step 2 'Notify colleague by SMS': Notify, Associate: choose the associate to fall back on",
    ]


def test_components_describe_themselves(sf_runtime):
    registry = sf_runtime.registry
    email, sms = registry.step_type("notify_by_email"), registry.step_type("notify_by_sms")
    assert email.describe({"subject": "New lead"}) == "Email our contact: 'New lead'"
    assert sms.describe({"recipient": {"rule": "associate", "associate": "4"}}) == "Text associate 4"
    assert email.sends is None and sms.sends is None  # not held by the person's send window
    for component in (email, sms):
        assert component.category == "Notifications"
        for name, field in component.settings_schema().fields.items():
            assert field.metadata.get("label") and field.metadata.get("help"), f"{component.name}.{name}"
