"""A flow's content: previews rendered for a chosen person, and test sends through
real SMTP and the outbox, outside the flow."""

from __future__ import annotations

import types

import pytest

from superflow import content
from superflow import flows
from superflow import hookimpl
from superflow import keys
from superflow.components import Content
from superflow.components import StepType
from superflow.flow import parse_flow
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import started

SMS = {
    "id": "text",
    "type": "send_sms",
    "settings": {"sender": "Superflow", "text": "Hei {{ person.first_name }}!"},
}


def split_with(*inside):
    """A split whose first branch holds ``inside`` and whose everyone-else path waits."""
    return {
        "id": "split",
        "type": "split",
        "name": "Customers?",
        "settings": {},
        "branches": [
            {
                "name": "Opened",
                "condition": {"type": "email_action", "settings": {"action": "email.opened"}},
                "steps": list(inside),
            }
        ],
        "everyone_else": [{"id": "later", "type": "wait", "settings": {"amount": 1, "unit": "days"}}],
    }


@pytest.fixture
def office(crm):
    kari = crm.create_associate("Kari Nordmann", email="kari@superflow.test", mobile="+4791111111")["id"]
    company = crm.create_company("Fjord & Co", our_contact=kari)
    ada = crm.create_person(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        mobile="+4790000000",
        company_id=company["id"],
    )["id"]
    crm.set_consent(ada, "emarketing", True)
    bo = crm.create_person(first_name="Bo", email="bo@example.com")["id"]
    crm.set_consent(bo, "emarketing", False)
    return {"kari": kari, "ada": ada, "bo": bo}


def test_previews_render_every_sending_step_with_the_chosen_persons_data(sf_runtime, office):
    rt = sf_runtime
    steps = [
        {**email_step("hello"), "name": "Welcome"},
        {"id": "wait", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
        split_with(
            SMS,
            {
                "id": "tell",
                "type": "notify_by_email",
                "settings": {"subject": "{{ person.full_name }} is in", "body": "Call {{ person.mobile }}"},
            },
        ),
    ]
    flow = flows.create(rt, flow_doc(steps, name="Welcome series"))

    items = content.flow_content(rt, flow, office["ada"])

    assert [(i["step_id"], i["number"], i["type_label"]) for i in items] == [
        ("hello", 1, "Send email"),
        ("text", 4, "Send SMS"),
        ("tell", 5, "Notify colleague by email"),
    ], "only the steps that send, split branches included, in step order"
    hello, text, tell = items
    assert hello["label"] == "Step 1 'Welcome'" and hello["can_send_test"] and not hello["problems"]
    [email] = hello["content"]
    assert isinstance(email, Content) and email.channel == "email"
    assert email.to == "ada@example.com" and email.sender == "Superflow News <news@superflow.test>"
    assert email.subject == "Hello Ada"
    assert email.html == "<p>Hi Ada, welcome from Fjord &amp; Co.</p>", "values are escaped in HTML"
    assert email.text == "Hi Ada, welcome from Fjord & Co.", "the plain-text part is made from the HTML"
    assert "/t/c/" not in email.html and "/t/o/" not in email.html
    assert email.details["tracking"] is True and email.problems == []

    [sms] = text["content"]
    assert (sms.channel, sms.to, sms.sender, sms.text) == ("sms", "+4790000000", "Superflow", "Hei Ada!")
    assert sms.details["segments"] == 1 and sms.details["encoding"] == "GSM-7"

    [note] = tell["content"]
    assert (note.to, note.subject, note.text) == (
        "kari@superflow.test",
        "Ada Lovelace is in",
        "Call +4790000000",
    )
    assert note.details["colleague"] == "Kari Nordmann"

    # Another person: their data, and why they would not get the email.
    bo = content.flow_content(rt, flow, office["bo"])
    assert bo[0]["content"][0].subject == "Hello Bo"
    assert bo[0]["content"][0].problems == [
        "this person would not get it: no e-marketing consent (they would leave the flow)"
    ]
    assert bo[2]["content"][0].problems == ["nobody would be notified: the person has no company"]


def test_an_unknown_person_is_a_clear_error(sf_runtime, office):
    flow = flows.create(sf_runtime, flow_doc([email_step("hello")]))
    with pytest.raises(content.UnknownPerson, match="there is no person '999' in the CRM"):
        content.flow_content(sf_runtime, flow, "999")
    with pytest.raises(LookupError, match="'999'"):
        content.send_test(sf_runtime, flow, "hello", "999", "me@example.com")


def test_an_unknown_merge_tag_is_a_problem_not_an_error(sf_runtime, office):
    # A flow saved before the CRM lost a field: the check at saving time passed.
    steps = [
        email_step("hello", subject="Hi {{ person.shoe_size }}", html="<p>{{ person.first_name }}</p>"),
        {**SMS, "settings": {**SMS["settings"], "text": "Size [[person.shoe_size]]"}},
    ]
    flow = parse_flow(flow_doc(steps), sf_runtime.registry, flow_id="9")

    hello, text = content.flow_content(sf_runtime, flow, office["ada"])

    email = hello["content"][0]
    assert email.problems == ["subject: unknown merge tag {{ person.shoe_size }}"]
    assert email.html == "<p>Ada</p>", "the rest still renders"
    assert text["content"][0].problems == ["text: unknown merge tag {{ person.shoe_size }}"]


def test_the_event_and_missing_settings_in_a_preview(sf_runtime, office):
    steps = [
        email_step("hello", subject="Your plan: {{ event.plan }}"),
        {"id": "text", "type": "send_sms", "settings": {"sender": "Superflow"}},
    ]
    flow = flows.create(sf_runtime, flow_doc(steps))
    hello, text = content.flow_content(sf_runtime, flow, office["ada"])
    assert hello["content"][0].subject == "Your plan: [event.plan]", "no event enrolled the person"
    assert text["content"] == [] and text["problems"] == ["Text is required"]
    with pytest.raises(ValueError, match="Step 2 'Send SMS' cannot be sent yet: Text is required"):
        content.send_test(sf_runtime, flow, "text", office["ada"], "+4790000001")


def test_sms_preview_counts_segments(sf_runtime, office):
    long_text = "Hei {{ person.first_name }}! " + "x" * 200
    emoji = "Hei {{ person.first_name }} 🎉"
    steps = [
        {**SMS, "id": "long", "settings": {"sender": "Superflow", "text": long_text}},
        {**SMS, "id": "emoji", "settings": {"sender": "Superflow", "text": emoji}},
    ]
    flow = flows.create(sf_runtime, flow_doc(steps))
    long, fancy = (item["content"][0] for item in content.flow_content(sf_runtime, flow, office["ada"]))
    assert (long.details["segments"], long.details["encoding"]) == (2, "GSM-7")
    assert long.details["size"] == "2 SMS parts (GSM-7)"
    assert (fancy.details["segments"], fancy.details["encoding"]) == (1, "UCS-2")


def test_send_test_sends_one_email_through_smtp_outside_the_flow(sf_plugin, sf_smtp_server):
    inbox, port = sf_smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    ada = rt.crm.create_person(first_name="Ada", email="ada@example.com")["id"]
    html = '<p>Hi {{ person.first_name }}, see <a href="https://shop.example/offer">the offer</a>.</p>'
    flow = started(
        rt, flow_doc([email_step("offer", subject="An offer for {{ person.first_name }}", html=html)])
    )
    stats_before = rt.store.stats(flow.id)

    confirmation = content.send_test(rt, flow, "offer", ada, " tester@example.com ")

    assert confirmation.startswith("Test email sent to tester@example.com")
    [message] = inbox.messages
    assert message["To"] == "tester@example.com"
    assert message["Subject"] == "[Test] An offer for Ada"
    body = message.get_body(("html",)).get_content()
    assert 'href="https://shop.example/offer"' in body
    assert "superflow.test/t/" not in body, "no tracked links and no open pixel"
    assert "List-Unsubscribe" not in message
    assert "Hi Ada, see the offer (https://shop.example/offer)." in message.get_body(("plain",)).get_content()
    assert rt.store.stats(flow.id) == stats_before, "the flow's counters are not touched"
    assert not rt.redis.keys(keys.ledger("*")), "real sends' ledger is not used"

    content.send_test(rt, flow, "offer", ada, "tester@example.com")
    assert len(inbox.messages) == 2, "every test is sent: no key is shared"


def test_send_test_refuses_a_bad_address_or_number(sf_runtime, office):
    rt = sf_runtime
    flow = flows.create(rt, flow_doc([email_step("hello"), SMS]))
    with pytest.raises(ValueError, match="'not an address' is not an email address"):
        content.send_test(rt, flow, "hello", office["ada"], "not an address")
    with pytest.raises(ValueError, match="'12ab' is not a mobile number"):
        content.send_test(rt, flow, "text", office["ada"], "12ab")
    with pytest.raises(content.UnknownStep, match="there is no step 'nope'"):
        content.send_test(rt, flow, "nope", office["ada"], "me@example.com")
    assert Outbox(rt.config).count() == 0


def test_send_test_of_an_sms_and_a_notification_through_the_outbox(sf_runtime, office):
    rt = sf_runtime
    tell = {
        "id": "tell",
        "type": "notify_by_sms",
        "settings": {"sender": "Superflow", "text": "Call {{ person.first_name }}"},
    }
    flow = flows.create(rt, flow_doc([SMS, tell]))

    assert content.send_test(rt, flow, "text", office["ada"], "+47 900 00 009").startswith(
        "Test SMS sent to +4790000009, 1 SMS part (GSM-7)"
    )
    assert content.send_test(rt, flow, "tell", office["ada"], "+4790000008").startswith(
        "Test SMS sent to +4790000008"
    )
    texts = {m["recipient"]: m["text"] for m in Outbox(rt.config).messages("sms")}
    assert texts == {"+4790000009": "[Test] Hei Ada!", "+4790000008": "[Test] Call Ada"}


def test_steps_that_send_nothing_have_no_test(sf_runtime, office):
    flow = flows.create(sf_runtime, flow_doc([{"id": "wait", "type": "wait", "settings": {"amount": 1}}]))
    assert content.flow_content(sf_runtime, flow, office["ada"]) == []
    with pytest.raises(NotImplementedError, match="cannot send a test"):
        content.send_test(sf_runtime, flow, "wait", office["ada"], "me@example.com")


def test_a_third_party_step_previews_through_the_public_api(sf_plugin, office):
    class Postcard(StepType):
        name = "postcard"
        label = "Send postcard"

        def preview(self, settings, scope, services):
            card = Content("postcard", to=scope["person"]["full_name"] or "")
            card.text = card.render("text", "Greetings, {{ person.first_name }} {{ person.nope }}", scope)
            return [card]

    module = types.ModuleType("postcards")
    module.superflow_register_step_types = hookimpl(lambda register: register(Postcard()))
    rt = sf_plugin(module)
    flow = parse_flow(flow_doc([{"id": "card", "type": "postcard"}]), rt.registry, flow_id="7")
    [item] = content.flow_content(rt, flow, office["ada"])
    [card] = item["content"]
    assert card.to == "Ada Lovelace" and card.problems == ["text: unknown merge tag {{ person.nope }}"]
    assert item["can_send_test"] is False
