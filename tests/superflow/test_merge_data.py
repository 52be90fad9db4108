"""Merge data means the data: keys a shop sends (items, values, keys, count …) are its
data in every scope, and event-driven messages preview, test and start with a sample
event — the last one received, or the one the marketer typed in the trigger's panel."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from superflow import flows
from superflow import merge
from superflow import samples
from superflow.crm import FieldInfo
from superflow.events import Event
from superflow.testing import SignedInSession
from superflow.testing import csrf_token
from superflow.testing import email_step
from superflow.testing import flow_doc

CART_ITEMS = [
    {"name": "Kettle", "price": 39, "count": 1},
    {"name": "Mugs, set of 4", "price": 24, "count": 2},
]
CART_HTML = (
    "<p>Hi {{ person.first_name }}, you left {{ event.items|length }} items:</p>"
    "<ul>{% for item in event.items %}<li>{{ item.name }} × {{ item.count }}</li>{% endfor %}</ul>"
)


def cart_trigger(sample: Any = None) -> dict[str, Any]:
    settings: dict[str, Any] = {"name": "cart.abandoned"}
    if sample is not None:
        settings["sample"] = json.dumps(sample)
    return {"type": "api_event", "settings": settings}


def cart_flow(html: str = CART_HTML, sample: Any = None) -> dict[str, Any]:
    step = email_step("cart", subject="You left {{ event.items|length }} items", html=html, tracking=False)
    return flow_doc([step], trigger=cart_trigger(sample), name="Abandoned cart")


@pytest.fixture
def admin(sf_runtime, sf_live_server) -> SignedInSession:
    return SignedInSession(sf_runtime, sf_live_server, "flow_admin")


# --- the data, in render and in the checks --------------------------------------------


def test_event_items_are_the_events_items_not_the_dicts_method():
    scope = merge.scope({"first_name": "Ada"}, event={"items": CART_ITEMS, "keys": "K1", "values": [1, 2]})
    assert merge.render(CART_HTML, scope) == (
        "<p>Hi Ada, you left 2 items:</p><ul><li>Kettle × 1</li><li>Mugs, set of 4 × 2</li></ul>"
    )
    assert merge.render("{{ event.keys }} {{ event.values|sum }}", scope) == "K1 3"
    assert merge.render('{{ event["items"][1].name }}', scope) == "Mugs, set of 4"
    assert merge.render("{{ event.items|map(attribute='count')|sum }}", scope) == "3"
    assert merge.render("{{ (event|attr('items'))[0].price }}", scope) == "39"


def test_nested_data_means_its_keys_at_every_depth():
    event = {"cart": {"items": [{"name": "Kettle", "update": "in stock"}], "count": 7}}
    scope = merge.scope({}, event=event)
    assert merge.render("{{ event.cart.items[0].name }}: {{ event.cart.items[0].update }}", scope) == (
        "Kettle: in stock"
    )
    assert merge.render("{{ event.cart.count }} {{ event.cart.items|length }}", scope) == "7 1"


def test_extra_fields_named_like_methods_are_the_persons_and_companys_data():
    fields = [
        FieldInfo(key="values", label="Values", type="text"),
        FieldInfo(key="company.count", label="Employees", type="number", entity="company"),
    ]
    names = merge.known_names(fields)
    person = {"first_name": "Ada", "fields": {"values": "honesty"}, "company": {"name": "Fjord", "count": 40}}
    scope = merge.scope(person, names=names, flow={"name": "Welcome", "items": "x"}, our_contact={"count": 3})
    template = "{{ person.values }} at {{ company.count }}-strong {{ company.name }}"
    assert merge.check(template, names) == []
    assert merge.render(template, scope) == "honesty at 40-strong Fjord"
    assert merge.render("{{ flow.items }} {{ our_contact.count }}", scope) == "x 3"


def test_the_checks_agree_with_the_render():
    names = merge.known_names()
    scope = merge.scope({"first_name": "Ada"}, names=names)
    # Without an extra field "values", person.values is unknown to the check and fails the render.
    assert merge.check("{{ person.values }}", names) == ["unknown merge tag {{ person.values }}"]
    with pytest.raises(merge.MergeError):
        merge.render("{{ person.values }}", scope)
    sample = {"items": CART_ITEMS}
    assert merge.check(CART_HTML, names, event=sample) == []
    assert merge.hazards(CART_HTML, names, event=sample) == []
    assert merge.check("{{ event.coupon }} {{ event['total'] }}", names, event=sample) == [
        "unknown merge tag {{ event.coupon }}",
        "unknown merge tag {{ event.total }}",
    ]
    with pytest.raises(merge.MergeError):
        merge.render("{{ event.coupon }}", merge.scope({}, event=sample))


def test_the_sandbox_still_keeps_internals_out_of_reach_through_the_data():
    scope = merge.scope({}, event={"items": CART_ITEMS})
    for template in ("{{ event.__class__ }}", "{{ event['__class__'] }}", "{{ event|attr('__class__') }}"):
        with pytest.raises(merge.MergeError, match="may not use __class__"):
            merge.render(template, scope)


# --- previews, tests and the picker with the sample event ------------------------------


def preview(admin: SignedInSession, doc: dict[str, Any], person_id: str, flow_id: str | None = None) -> Any:
    step = {"type": doc["steps"][0]["type"], "settings": doc["steps"][0]["settings"]}
    body = {"step": step, "person_id": person_id, "trigger": doc["trigger"], "flow_id": flow_id}
    reply = admin.call("/designer/preview", body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_cart_email_previews_with_the_sample_the_marketer_typed(admin, people):
    doc = cart_flow(sample={"items": CART_ITEMS})
    [shown] = preview(admin, doc, people[0])["content"]
    assert shown["subject"] == "You left 2 items"
    assert "<li>Kettle × 1</li><li>Mugs, set of 4 × 2</li>" in shown["html"]
    assert not shown["problems"]


def test_the_preview_uses_the_last_event_received(admin, sf_runtime, sf_run_jobs, people):
    doc = cart_flow(sample={"items": CART_ITEMS})
    flow = flows.start(sf_runtime, flows.create(sf_runtime, doc).id)
    received = [{"name": "Teapot", "count": 1}]
    sf_runtime.emit([Event("api.event", people[1], {"name": "cart.abandoned", "items": received})])
    sf_run_jobs()
    [shown] = preview(admin, doc, people[0], flow.id)["content"]
    assert shown["subject"] == "You left 1 items"
    assert "<li>Teapot × 1</li>" in shown["html"]


def test_a_bad_sample_is_refused_naming_the_field(admin):
    doc = cart_flow()
    doc["trigger"]["settings"]["sample"] = "{items: 2"
    reply = admin.call("/designer/save", {"doc": doc})
    assert reply.status_code == 422
    [error] = reply.json()["errors"]
    assert error["field"] == "trigger.settings.sample" and "not valid JSON" in error["message"]


def test_the_picker_offers_the_events_data_once_each_in_words(admin):
    reply = admin.call("/designer/merge-tags", {"trigger": cart_trigger({"items": CART_ITEMS, "total": 63})})
    tags = {t["tag"]: t for t in reply.json()["merge_tags"]}
    assert tags["event.total"]["label"] == "Total" and tags["event.total"]["group"] == "Event"
    assert tags["event.items"]["insert"] == "{% for item in event.items %}{{ item.name }} {% endfor %}"
    assert tags["person.first_name"]["label"] == "First name"
    assert "person.firstname" not in tags and "person.fullname" not in tags, "aliases are not listed twice"
    assert not [t for t in tags if t.endswith(".id")], "no internal ids"
    assert len(tags) == len(reply.json()["merge_tags"])


@pytest.fixture
def sf_config(sf_config, sf_smtp_server):
    _, port = sf_smtp_server
    return replace(sf_config, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)


def test_a_test_send_arrives_filled_with_the_sample(admin, sf_smtp_server, people):
    inbox, _ = sf_smtp_server
    doc = cart_flow(sample={"items": CART_ITEMS})
    step = {"type": "send_email", "settings": doc["steps"][0]["settings"]}
    body = {"step": step, "person_id": people[0], "to": "tester@example.com", "trigger": doc["trigger"]}
    reply = admin.call("/designer/send-test", body)
    assert reply.status_code == 200, reply.text
    [message] = inbox.messages
    assert message["Subject"] == "[Test] You left 2 items"
    assert "<li>Kettle × 1</li>" in message.get_body(("html",)).get_content()


def test_a_failed_test_send_says_so_once(admin, sf_runtime, sf_live_server, sf_smtp_server, people):
    inbox, _ = sf_smtp_server
    html = "{% for item in event.items %}{{ item.name }}{% endfor %}"
    flow = flows.create(sf_runtime, cart_flow(html=html, sample={"items": 3}))
    page = admin.get(f"{sf_live_server}/flows/{flow.id}/content", timeout=10).text
    token = csrf_token(page)
    form = {"person": people[0], "to": "tester@example.com", "csrf_token": token}
    shown = admin.post(f"{sf_live_server}/flows/{flow.id}/content/cart/test", data=form, timeout=10).text
    said = re.findall(r"the test was not sent", shown, flags=re.IGNORECASE)
    assert len(said) == 1, shown
    assert not inbox.messages


# --- start and save ----------------------------------------------------------------------


def test_start_is_refused_while_the_preview_fails_with_the_reason(admin, sf_runtime, people):
    html = "{% for item in event.items %}{{ item.name }}{% endfor %}"
    flow = flows.create(sf_runtime, cart_flow(html=html, sample={"items": 3}))
    reply = admin.call("/designer/start", {"flow_id": flow.id})
    assert reply.status_code == 409
    messages = [p["message"] for p in reply.json()["problems"]]
    assert any("the preview fails" in m and "a for loop needs a list" in m for m in messages), messages
    assert all(p["step_id"] == "cart" for p in reply.json()["problems"])
    assert flows.get(sf_runtime, flow.id).status == "draft"
    checked = admin.call("/designer/check", {"doc": flow.doc, "flow_id": flow.id}).json()
    assert any("the preview fails" in p["message"] for p in checked["problems"])


def test_an_event_tag_the_sample_lacks_is_a_problem_named(admin, sf_runtime, people):
    doc = cart_flow(html="<p>Use code {{ event.coupon }}</p>", sample={"items": CART_ITEMS})
    flow = flows.create(sf_runtime, doc)
    reply = admin.call("/designer/start", {"flow_id": flow.id})
    assert reply.status_code == 409
    [problem] = [p["message"] for p in reply.json()["problems"]]
    assert "unknown merge tag {{ event.coupon }}" in problem and problem.startswith("Step 1")

    doc["trigger"]["settings"]["sample"] = json.dumps({"items": CART_ITEMS, "coupon": "SAVE10"})
    flows.update(sf_runtime, flow.id, doc)
    assert admin.call("/designer/start", {"flow_id": flow.id}).status_code == 200


def test_a_draft_with_an_unknown_merge_tag_saves_and_lists_the_tag(admin, sf_runtime):
    doc = cart_flow(html="<p>{{ person.shoe_size }} {{ event.coupon }}</p>", sample={"items": CART_ITEMS})
    reply = admin.call("/designer/save", {"doc": doc})
    assert reply.status_code == 200, reply.text
    problems = [p["message"] for p in reply.json()["problems"]]
    assert "Step 1 'Send email': Body: unknown merge tag {{ person.shoe_size }}" in problems
    assert any("unknown merge tag {{ event.coupon }}" in p for p in problems)
    checked = admin.call("/designer/check", {"doc": doc, "flow_id": reply.json()["flow_id"]}).json()
    assert checked["errors"] == []
    assert [(u["step_id"], u["path"], u["tag"]) for u in checked["unknown_merge_tags"]] == [
        ("cart", "steps[0].settings.html", "person.shoe_size"),
        ("cart", "steps[0].settings.html", "event.coupon"),
    ]


def test_the_last_event_kept_is_bounded(sf_runtime):
    samples.remember(sf_runtime.redis, "7", {"items": CART_ITEMS})
    samples.remember(sf_runtime.redis, "7", {"blob": "x" * (samples.MAX_SAMPLE_BYTES + 1)})
    samples.remember(sf_runtime.redis, "7", {})
    assert samples.last_event(sf_runtime.redis, "7") == {"items": CART_ITEMS}, (
        "a huge or empty event is not kept"
    )
