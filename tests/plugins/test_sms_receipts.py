"""The HTTP SMS gateway's callbacks over real HTTP: delivery receipts become report
counters and events; a STOP reply withdraws SMS consent in the CRM."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from superflow.testing import LiveServer
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started
from superflow.webapp import create_app

GATEWAY = "https://sms.gateway.example/v1/messages"
SETTINGS = {
    "sms_gateway_url": GATEWAY,
    "sms_gateway_body": '{"recipient": "{to}", "body": "{text}", "meta": {"ref": "{reference}"}}',
    "sms_gateway_id_path": "messages.0.id",
    "sms_gateway_webhook_secret": "hook-secret",
    "sms_gateway_receipt_reference_path": "meta.ref",
    "sms_gateway_receipt_status_path": "state",
    "sms_gateway_receipt_id_path": "message_id",
    "sms_gateway_receipt_to_path": "msisdn",
}


@pytest.fixture
def gateway():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield mock


@pytest.fixture
def app(sf_plugin, sf_run_jobs, gateway):
    """An SMS flow that sent Ada and Bjørn a message; the app's address and the
    references the gateway got."""
    rt = sf_plugin(sms_provider="http_gateway", extra=dict(SETTINGS))
    sent = []

    def accept(request):
        sent.append(json.loads(request.body))
        return 200, {}, json.dumps({"messages": [{"id": f"gw-{len(sent)}"}]})

    gateway.add_callback(responses.POST, GATEWAY, callback=accept)
    people = [
        rt.crm.create_person(first_name=n, mobile=m)["id"]
        for n, m in (("Ada", "+4790000001"), ("Bjørn", "+4790000002"))
    ]
    for pid in people:
        rt.crm.set_consent(pid, "sms", True)
    steps = [
        {
            "id": "s1",
            "type": "send_sms",
            "settings": {"sender": "Superflow", "text": "Hei! Reply STOP to stop"},
        },
        {"id": "w", "type": "wait", "settings": {"amount": 1}},
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, *people)
    sf_run_jobs(rt)
    refs = {m["recipient"]: m["meta"]["ref"] for m in sent}
    emitted = []
    original = rt.emit

    def emit(events):
        emitted.extend(events)
        original(events)

    rt.emit = emit
    with LiveServer(create_app(runtime=rt)) as url:
        yield rt, flow, people, refs, emitted, f"{url}/hooks/sms-gateway"


def test_delivery_receipts_count_once_and_become_events(app, sf_run_jobs):
    rt, flow, people, refs, emitted, hooks = app
    assert refs["+4790000001"].startswith(f"{flow.id}.1:s1")
    delivered = {
        "message_id": "gw-1",
        "meta": {"ref": refs["+4790000001"]},
        "state": "DELIVERED",
        "msisdn": "4790000001",
    }
    reply = requests.post(f"{hooks}/receipts?secret=hook-secret", json=delivered, timeout=5)
    assert reply.status_code == 200 and reply.json() == {"received": 1, "recorded": 1}
    again = requests.post(
        f"{hooks}/receipts", json=delivered, headers={"X-Webhook-Secret": "hook-secret"}, timeout=5
    )
    assert again.json() == {"received": 1, "recorded": 0}  # the gateway repeated itself
    batch = [
        {"message_id": "gw-2", "meta": {"ref": refs["+4790000002"]}, "state": "queued"},
        {
            "message_id": "gw-2",
            "meta": {"ref": refs["+4790000002"]},
            "state": "undelivered",
            "error": "absent",
        },
        {"message_id": "gw-9", "meta": {"ref": "not-ours"}, "state": "delivered"},
    ]
    reply = requests.post(
        f"{hooks}/receipts", json=batch, headers={"Authorization": "Bearer hook-secret"}, timeout=5
    )
    assert reply.json() == {"received": 3, "recorded": 1}

    stats = rt.store.stats(flow.id)
    assert stats["sms.delivered"] == 1 and stats["step:s1:sms.delivered"] == 1
    assert stats["sms.undelivered"] == 1 and stats["step:s1:sms.undelivered"] == 1
    assert [(e.type, e.person_id, e.data["message_id"]) for e in emitted] == [
        ("sms.delivered", people[0], "gw-1"),
        ("sms.failed", people[1], "gw-2"),
    ]
    assert emitted[1].data["error"] == "absent" and emitted[1].data["participant_id"] == f"{flow.id}.2"
    sf_run_jobs(rt)
    notes = [h["note"] for h in participant_of(rt, flow, people[0]).history if h["kind"] == "event"]
    assert notes == ["sms.delivered"]


def test_a_form_encoded_receipt_works_too(app):
    rt, flow, _, refs, _, hooks = app
    # a flat form cannot nest: point the reference path at a flat field
    rt.config.extra["sms_gateway_receipt_reference_path"] = "ref"
    form = {"message_id": "gw-1", "ref": refs["+4790000001"], "state": "delivered"}
    reply = requests.post(f"{hooks}/receipts?secret=hook-secret", data=form, timeout=5)
    assert reply.status_code == 200 and reply.json()["recorded"] == 1
    assert rt.store.stats(flow.id)["sms.delivered"] == 1


def test_callbacks_without_the_secret_or_with_a_bad_body_are_refused(app, sf_plugin):
    _, _, _, _, emitted, hooks = app
    for headers in ({}, {"X-Webhook-Secret": "guess"}, {"Authorization": "Bearer guess"}):
        reply = requests.post(
            f"{hooks}/inbound", json={"from": "+4790000001", "text": "STOP"}, headers=headers, timeout=5
        )
        assert reply.status_code == 403 and reply.json() == {
            "error": "the webhook secret is missing or wrong"
        }
    bad = requests.post(
        f"{hooks}/receipts?secret=hook-secret",
        data="{nope",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json() == {"error": "the body is not valid JSON"}
    nobody = requests.post(f"{hooks}/inbound?secret=hook-secret", json={"text": "STOP"}, timeout=5)
    assert nobody.status_code == 400 and "no sender number" in nobody.json()["error"]
    assert emitted == []


def test_stop_withdraws_sms_consent_for_the_number_a_receipt_named(app):
    rt, _, people, refs, emitted, hooks = app
    receipt = {
        "message_id": "gw-1",
        "meta": {"ref": refs["+4790000001"]},
        "state": "delivered",
        "msisdn": "4790000001",
    }
    requests.post(f"{hooks}/receipts?secret=hook-secret", json=receipt, timeout=5)
    emitted.clear()
    reply = requests.post(
        f"{hooks}/inbound?secret=hook-secret",
        json={"from": "+47 900 00 001", "text": "Stop please", "id": "in-1"},
        timeout=5,
    )
    assert reply.status_code == 200 and reply.json() == {"status": "stopped", "stop": True}
    assert rt.crm.get_person(people[0])["consents"]["sms"] is False
    assert rt.crm.get_person(people[1])["consents"]["sms"] is True
    assert [(e.type, e.person_id, e.data) for e in emitted] == [
        ("sms.stopped", people[0], {"number": "+47 900 00 001", "keyword": "STOP", "purpose": "sms"})
    ]
    hello = requests.post(
        f"{hooks}/inbound?secret=hook-secret", json={"from": "004790000001", "text": "Hello"}, timeout=5
    )
    assert hello.json() == {"status": "received", "stop": False} and emitted[-1].type == "sms.received"
    unknown = requests.post(
        f"{hooks}/inbound?secret=hook-secret", json={"from": "+4711111111", "text": "STOP"}, timeout=5
    )
    assert unknown.status_code == 200 and unknown.json() == {"status": "unknown number", "stop": True}


def test_stop_asks_the_crm_for_the_number_when_it_can(app):
    rt, _, people, _, emitted, hooks = app
    asked = []

    def find_person_by_mobile(number):
        asked.append(number)
        return rt.crm.get_person(people[1])

    rt.crm.find_person_by_mobile = find_person_by_mobile
    form = {"from": "+4790000002", "text": "stopp"}
    reply = requests.post(f"{hooks}/inbound?secret=hook-secret", data=form, timeout=5)
    assert reply.json() == {"status": "stopped", "stop": True} and asked == ["+4790000002"]
    assert rt.crm.get_person(people[1])["consents"]["sms"] is False
    assert emitted[-1].data["keyword"] == "STOPP"


def test_without_a_secret_configured_callbacks_are_refused(sf_live_server):
    reply = requests.post(f"{sf_live_server}/hooks/sms-gateway/receipts", json={}, timeout=5)
    assert (
        reply.status_code == 403
        and "SUPERFLOW_SMS_GATEWAY_WEBHOOK_SECRET is not set" in reply.json()["error"]
    )
