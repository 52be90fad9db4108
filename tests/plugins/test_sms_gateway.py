"""The HTTP SMS gateway provider, with `responses` standing in for the gateway."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from superflow import keys
from superflow.plugins.sms_gateway import HttpGateway
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started

URL = "https://sms.gateway.example/v1/messages"
SETTINGS = {
    "sms_gateway_url": URL,
    "sms_gateway_auth_header": "Authorization: Bearer xyz",
    "sms_gateway_body": (
        '{"recipient": "{to}", "originator": "{sender}", "body": "{text}", "meta": {"ref": "{reference}"}}'
    ),
    "sms_gateway_id_path": "messages.0.id",
}


def ok(message_id):
    return {"messages": [{"id": message_id, "status": "queued"}]}


@pytest.fixture
def gateway_rt(sf_plugin):
    def make(**settings):
        rt = sf_plugin(sms_provider="http_gateway", extra={**SETTINGS, **settings})
        rt.slept = []
        rt.sms.sleep = rt.slept.append
        return rt

    return make


@pytest.fixture
def gateway():
    with responses.RequestsMock() as mock:
        yield mock


def sms_step(text='Hei {{person.first_name}}: "50%" off\\today\n– reply STOP'):
    return {"id": "s1", "type": "send_sms", "settings": {"sender": "Superflow", "text": text}}


def phone(rt, first, mobile):
    return rt.crm.create_person(first_name=first, mobile=mobile)["id"]


def participant(rt, flow, person_id):
    return rt.store.participant(rt.redis.hget(keys.person(person_id), flow.id))


def test_the_request_it_sends(gateway_rt, sf_run_jobs, gateway):
    rt = gateway_rt()
    gateway.post(URL, json=ok("gw-1"))
    ada = phone(rt, "Ada", "+4791234567")
    flow = started(rt, flow_doc([sms_step()]))
    signed_up(rt, ada)
    sf_run_jobs(rt)

    [call] = gateway.calls
    assert call.request.headers["Authorization"] == "Bearer xyz"
    assert call.request.headers["Content-Type"].startswith("application/json")
    assert json.loads(call.request.body) == {
        "recipient": "+4791234567",
        "originator": "Superflow",
        "body": 'Hei Ada: "50%" off\\today\n– reply STOP',
        "meta": {"ref": f"{flow.id}.1:s1"},
    }
    p = participant(rt, flow, ada)
    assert p.status == "completed"
    assert p.last_sending["id"] == "gw-1"


def test_a_500_is_tried_again_within_the_call(gateway_rt, sf_run_jobs, gateway):
    rt = gateway_rt()
    gateway.post(URL, status=500, json={"error": "internal"})
    gateway.post(URL, json=ok("gw-2"))
    flow = started(rt, flow_doc([sms_step("Hello")]))
    bo = phone(rt, "Bo", "+4791111111")
    signed_up(rt, bo)
    sf_run_jobs(rt)
    assert len(gateway.calls) == 2
    assert rt.slept == [0.5]
    assert participant(rt, flow, bo).status == "completed"


def test_429_honours_retry_after(gateway_rt, sf_run_jobs, gateway):
    rt = gateway_rt()
    gateway.post(URL, status=429, headers={"Retry-After": "3"}, json={"message": "slow down"})
    gateway.post(URL, json=ok("gw-3"))
    flow = started(rt, flow_doc([sms_step("Hello")]))
    cy = phone(rt, "Cy", "+4792222222")
    signed_up(rt, cy)
    sf_run_jobs(rt)
    assert rt.slept == [3.0]
    assert len(gateway.calls) == 2
    assert participant(rt, flow, cy).status == "completed"


def test_a_gateway_that_stays_busy_means_a_retry_later_and_nothing_sent_twice(
    gateway_rt, sf_run_jobs, gateway
):
    rt = gateway_rt()
    gateway.post(URL, json=ok("gw-a"))
    for _ in range(3):
        gateway.post(URL, status=503, json={"message": "maintenance"})
    ids = [phone(rt, "Ada", "+4790000001"), phone(rt, "Bo", "+4790000002")]
    flow = started(rt, flow_doc([sms_step("Hello")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)

    assert len(gateway.calls) == 4  # Ada once, Bo three tries
    assert rt.slept == [0.5, 1.0]
    assert participant(rt, flow, ids[0]).status == "completed"
    bo = participant(rt, flow, ids[1])
    assert bo.wait["k"] == "retry"
    assert "gateway answered 503: maintenance (3 tries)" in bo.history[-1]["note"]

    # Its tries already spanned seconds: the next comes after the longest pause
    # between tries (10 s), not a minute later.
    gateway.post(URL, json=ok("gw-b"))
    rt.clock.advance(11)
    sf_run_jobs(rt)
    assert len(gateway.calls) == 5
    recipients = [
        json.loads(c.request.body)["recipient"] for c in gateway.calls if c.response.status_code == 200
    ]
    assert recipients == ["+4790000001", "+4790000002"]
    assert participant(rt, flow, ids[1]).status == "completed"


def test_a_message_that_failed_in_a_batch_that_found_the_gateway_down_waits_for_the_gateway(
    gateway_rt, sf_run_jobs, gateway
):
    rt = gateway_rt()
    for _ in range(3):
        gateway.post(URL, status=503, json={"message": "maintenance"})
    gateway.post(URL, json=ok("gw-bo"))
    for _ in range(9):
        gateway.post(URL, status=503, json={"message": "maintenance"})
    names = ("Ada", "Bo", "Cy", "Dee", "Eve")
    ids = [phone(rt, name, f"+479000001{n}") for n, name in enumerate(names)]
    flow = started(rt, flow_doc([sms_step("Hello")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)
    ada, bo, *rest = (participant(rt, flow, pid) for pid in ids)
    assert bo.status == "completed"
    assert all(p.wait["c"] == "sms" for p in rest), "three failures in a row: the gateway is down"
    # Ada's failure came before the others': she waits for the gateway with them, and
    # her attempts are not used up by it.
    assert ada.wait["k"] == "retry" and ada.wait.get("c") == "sms" and ada.wait["n"] == 0
    assert ada.history[-1]["note"].startswith("waiting for sms to work again: sms not sent: SMS gateway")


def test_a_long_retry_after_ends_the_call_at_once(gateway_rt, sf_run_jobs, gateway):
    rt = gateway_rt()
    gateway.post(URL, status=429, headers={"Retry-After": "120"}, json={"message": "quota"})
    flow = started(rt, flow_doc([sms_step("Hello")]))
    dag = phone(rt, "Dag", "+4793333333")
    signed_up(rt, dag)
    sf_run_jobs(rt)
    assert len(gateway.calls) == 1 and rt.slept == []
    p = participant(rt, flow, dag)
    assert p.wait["k"] == "retry" and "asked to wait 120 s" in p.history[-1]["note"]


def test_a_400_for_one_message_exits_that_participant_and_sends_the_others_once(
    gateway_rt, sf_run_jobs, gateway
):
    rt = gateway_rt()

    def answer(request):
        to = json.loads(request.body)["recipient"]
        if to == "+47123":
            return 400, {}, json.dumps({"error": {"message": "invalid recipient number"}})
        return 200, {}, json.dumps(ok(f"id-{to}"))

    gateway.add_callback(responses.POST, URL, callback=answer)
    ids = [phone(rt, "Ada", "+4790000001"), phone(rt, "Bad", "+47123"), phone(rt, "Cy", "+4790000003")]
    flow = started(rt, flow_doc([sms_step("Hello")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)
    rt.clock.advance(3600)
    sf_run_jobs(rt)

    assert len(gateway.calls) == 3, "nothing is sent twice and the refused one is not tried again"
    bad = participant(rt, flow, ids[1])
    assert bad.status == "exited"
    assert bad.reason == "sms refused: gateway answered 400: invalid recipient number"
    assert [participant(rt, flow, pid).status for pid in (ids[0], ids[2])] == ["completed", "completed"]
    stats = rt.store.stats(flow.id)
    assert stats["sms.sent"] == 2 and stats["sms.failed"] == 1


def test_a_gateway_slower_than_its_timeout_is_in_doubt_taken_as_sent_and_the_flow_goes_on(
    gateway_rt, sf_run_jobs, gateway
):
    rt = gateway_rt()
    gateway.post(URL, body=requests.ReadTimeout("read timed out"))
    gateway.post(URL, json=ok("gw-b"))
    ids = [phone(rt, "Ada", "+4790000001"), phone(rt, "Bo", "+4790000002")]
    flow = started(rt, flow_doc([sms_step("Hello"), dict(sms_step("Again"), id="again")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)

    # Ada's first SMS got no answer in time: the gateway may have sent it, so it is
    # not sent again, and Ada still gets the next step's SMS.
    recipients = [json.loads(c.request.body)["recipient"] for c in gateway.calls]
    assert recipients.count("+4790000001") == 2 and recipients.count("+4790000002") == 2
    ada = participant(rt, flow, ids[0])
    assert ada.status == "completed"
    assert any("in doubt" in h["note"] and "taken as sent" in h["note"] for h in ada.history)
    assert rt.store.stats(flow.id)["sms.sent"] == 4


def test_configuration_errors_are_named(sf_config):
    from dataclasses import replace

    with pytest.raises(ValueError, match="SUPERFLOW_SMS_GATEWAY_URL is not set"):
        HttpGateway(replace(sf_config, extra={}))
    with pytest.raises(ValueError, match="SUPERFLOW_SMS_GATEWAY_BODY is not JSON"):
        HttpGateway(replace(sf_config, extra={"sms_gateway_url": URL, "sms_gateway_body": '{"to": {to}}'}))
    with pytest.raises(ValueError, match="SUPERFLOW_SMS_GATEWAY_AUTH_HEADER"):
        HttpGateway(
            replace(sf_config, extra={"sms_gateway_url": URL, "sms_gateway_auth_header": "Bearer xyz"})
        )
    honest = HttpGateway(replace(sf_config, extra={"sms_gateway_url": URL}))
    trusting = HttpGateway(
        replace(sf_config, extra={"sms_gateway_url": URL, "sms_gateway_honours_reference": "true"})
    )
    assert (honest.idempotent, trusting.idempotent) == (False, True)
