"""The send SMS step: honest segment counts, and persons without a mobile."""

from __future__ import annotations

import pytest

from superflow import keys
from superflow.events import Event
from superflow.plugins.outbox import Outbox
from superflow.plugins.sms import SendSmsSettings
from superflow.plugins.sms import count_segments
from superflow.plugins.sms import describe_text
from superflow.testing import flow_doc
from superflow.testing import started


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # the euro sign takes two places: 160
        ("€" + "a" * 159, "GSM-7", 2),  # 161 places
        ("Æøå ÄÖÜ ñ à É ¿¡ §" + "a" * 100, "GSM-7", 1),  # Nordic letters are GSM-7
        ("ł" * 70, "UCS-2", 1),
        ("ł" * 71, "UCS-2", 2),
        ("ł" * 134, "UCS-2", 2),
        ("ł" * 135, "UCS-2", 3),
        ("a" * 69 + "😀", "UCS-2", 2),  # an emoji takes two UTF-16 units: 71
        ("a" * 68 + "😀", "UCS-2", 1),  # 70
    ],
)
def test_segment_boundaries(text, encoding, parts):
    counted = count_segments(text)
    assert (counted.encoding, counted.parts) == (encoding, parts)


def test_a_pair_is_never_split_between_parts():
    # 152 plain characters then a euro sign: the escape pair does not fit in part one
    counted = count_segments("a" * 152 + "€" + "a" * 152)
    assert counted.units == 306 and counted.parts == 3


def test_the_settings_form_can_show_the_count(sf_runtime):
    step = sf_runtime.registry.step_type("send_sms")
    assert step.describe({"sender": "Shop", "text": "a" * 161}) == "Send SMS from Shop: 2 SMS parts (GSM-7)"
    assert step.describe({"sender": "Shop", "text": "Hei!"}) == "Send SMS from Shop: 1 SMS part (GSM-7)"
    assert (
        describe_text("Hi {{person.first_name}} 😀") == "1 SMS part (UCS-2) before merge tags are filled in"
    )
    assert SendSmsSettings().fields["text"].metadata["sms_segments"] is True


def sms_step(step_id="s1", **settings):
    return {
        "id": step_id,
        "type": "send_sms",
        "settings": {
            "sender": "Superflow",
            "text": "Hei {{person.first_name}}, 20% off today €5!",
            **settings,
        },
    }


@pytest.mark.parametrize("when_no_mobile", ["skip", "exit"])
def test_no_mobile_skips_or_exits_and_the_others_get_their_sms(
    sf_runtime, sf_run_jobs, crm, people, when_no_mobile
):
    rt = sf_runtime
    crm.update_person(people[1], {"mobile": None})
    flow = started(rt, flow_doc([sms_step(when_no_mobile=when_no_mobile)]))
    rt.emit([Event("api.event", pid, {"name": "signed_up"}) for pid in people[:2]])
    sf_run_jobs()

    [sms] = Outbox(rt.config).messages("sms")
    assert (sms["recipient"], sms["sender"], sms["text"]) == (
        "+4790000000",
        "Superflow",
        "Hei Ada, 20% off today €5!",
    )
    sent = rt.store.participant(rt.redis.hget(keys.person(people[0]), flow.id))
    assert sent.history[-2]["note"] == "sent to +4790000000, 1 SMS part (GSM-7)"
    nobody = rt.store.participant(rt.redis.hget(keys.person(people[1]), flow.id))
    stats = rt.store.stats(flow.id)
    if when_no_mobile == "skip":
        assert nobody.status == "completed" and stats["sms.skipped"] == 1
        assert "skipped: no mobile number" in [h["note"] for h in nobody.history]
    else:
        assert nobody.status == "exited" and nobody.reason == "no mobile number"
    assert stats["sms.sent"] == 1 and stats["sms.segments"] == 1


def test_a_person_who_replied_stop_gets_no_more_texts(sf_runtime, sf_run_jobs):
    from superflow.plugins.outbox import Outbox
    from superflow.testing import flow_doc
    from superflow.testing import participant_of
    from superflow.testing import signed_up
    from superflow.testing import started

    rt = sf_runtime
    person = rt.crm.create_person(first_name="Ola", mobile="+4790000001")
    rt.crm.set_consent(person["id"], "sms", False)
    step = {
        "id": "s",
        "type": "send_sms",
        "settings": {"sender": "Shop", "text": "Hi", "when_no_mobile": "exit"},
    }
    flow = started(rt, flow_doc([step]))
    signed_up(rt, person["id"])
    sf_run_jobs()
    assert Outbox(rt.config).count("sms") == 0
    assert participant_of(rt, flow, person["id"]).reason == "SMS consent withdrawn"
