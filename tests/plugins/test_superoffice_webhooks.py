"""``/hooks/superoffice``: signatures, redelivery, the registration test call, events
mapped from payloads; the selection poll; the commands; and a flow end to end:
signed "person added" webhook → filters read through the WebAPI → email through a real
SMTP server → "sale created" webhook → the participant succeeded."""

from __future__ import annotations

import json
import logging

import pytest
import responses
from click.testing import CliRunner
from test_superoffice_fake import SECRET
from test_superoffice_fake import SETTINGS
from test_superoffice_fake import FakeTenant
from test_superoffice_fake import fixture

from superflow import keys
from superflow.cli.context import CommandContext
from superflow.plugins.superoffice import commands
from superflow.plugins.superoffice.polling import SelectionPoll
from superflow.plugins.superoffice.webhooks import signature
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import started
from superflow.webapp import create_app


@pytest.fixture
def tenant():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeTenant(rsps)


def so_runtime(sf_plugin, **changes):
    rt = sf_plugin(crm="superoffice", extra=SETTINGS, **changes)
    rt.crm.client._token = "valid-token"
    return rt


@pytest.fixture
def rt(sf_plugin, tenant):
    return so_runtime(sf_plugin)


@pytest.fixture
def hooks(rt):
    return create_app(runtime=rt).test_client()


def post(client, payload, secret=SECRET, sign=True):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if sign:
        headers["X-SuperOffice-Signature"] = signature(secret, body)
    return client.post("/hooks/superoffice", data=body, headers=headers)


def queued_events(rt, sf_run_jobs):
    """Work the webhook jobs; return the events they handed to the engine."""
    seen = []
    original = rt.engine.handle_events

    def spy(events):
        seen.extend((e.type, e.person_id, e.data) for e in events)
        return original(events)

    rt.engine.handle_events = spy
    sf_run_jobs(rt)
    return seen


# -- verification ------------------------------------------------------------------------
def test_signature_is_base64_hmac_sha256_of_the_raw_body():
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), base64
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
    )


def test_missing_and_wrong_signatures_are_refused_and_logged(rt, hooks, caplog):
    caplog.set_level(logging.WARNING)
    payload = fixture("webhook_person_created.json")
    missing = post(hooks, payload, sign=False)
    wrong = post(hooks, payload, secret="not-the-secret")
    assert missing.status_code == 401 and "missing" in missing.get_json()["error"]
    assert wrong.status_code == 401 and "bad" in wrong.get_json()["error"]
    assert "missing signature" in caplog.text and "bad signature" in caplog.text
    assert rt.queue.count == 0


def test_a_tampered_body_is_refused(hooks):
    body = json.dumps(fixture("webhook_person_created.json")).encode()
    sig = signature(SECRET, body)
    response = hooks.post(
        "/hooks/superoffice", data=body.replace(b"17", b"18"), headers={"X-SuperOffice-Signature": sig}
    )
    assert response.status_code == 401


def test_registration_test_call_gets_200(rt, hooks):
    answer = post(hooks, fixture("webhook_test.json"))
    assert answer.status_code == 200 and answer.get_json() == {"ok": True, "test": True}
    assert rt.queue.count == 0


def test_person_created_is_queued_and_a_redelivery_is_ignored(rt, hooks, sf_run_jobs):
    payload = fixture("webhook_person_created.json")
    assert post(hooks, payload).get_json() == {"ok": True}
    assert post(hooks, payload).get_json() == {"ok": True, "duplicate": True}
    assert rt.redis.ttl(f"{keys.plugin_namespace('superoffice')}:event:{payload['EventId']}") > 0
    assert queued_events(rt, sf_run_jobs) == [("person.created", "17", {})]


def test_person_changed_becomes_person_updated_with_old_and_new(rt, hooks, tenant, sf_run_jobs):
    rt.crm.get_persons(["17"])
    rt.crm.ledger.remember("17", {"score": 10, "tier": "gold", "first_name": "Ada"})
    tenant.persons["17"]["personUdef/SuperOffice:3"] = "600"
    post(hooks, fixture("webhook_person_changed.json"))
    assert queued_events(rt, sf_run_jobs) == [("person.updated", "17", {"changes": {"score": [10, 600]}})]


def test_own_writes_are_not_announced_twice(rt, hooks, tenant, sf_run_jobs):
    rt.crm.update_persons([("17", {"score": 11}, "k")])
    sale = rt.crm.create_sale("17", "Offer", 5.0, idempotency_key="s")
    sf_run_jobs(rt)
    changed = {**fixture("webhook_person_changed.json"), "EventId": "e-1"}
    created = {**fixture("webhook_sale_created.json"), "EventId": "e-2", "PrimaryKey": int(sale["id"])}
    post(hooks, changed)
    post(hooks, created)
    assert queued_events(rt, sf_run_jobs) == []


def test_sale_ticket_and_appointment_webhooks(rt, hooks, tenant, sf_run_jobs):
    tenant.sales["527331"] = {"entity": fixture("sale_entity.json")}
    tenant.tickets["812"] = {"entity": fixture("ticket_entity.json")}
    tenant.appointments["4401"] = {"entity": fixture("appointment_entity.json")}
    post(hooks, fixture("webhook_sale_created.json"))
    post(hooks, {"EventId": "t1", "Event": "ticket.created", "PrimaryKey": 812, "Entity": "ticket"})
    activity = fixture("webhook_activity_created.json")
    post(hooks, activity)
    # a document is an activity too (FieldValues.type 4): no follow-up, and no read
    post(hooks, {**activity, "EventId": "d1", "PrimaryKey": 4402, "FieldValues": {"type": 4}})
    seen = {t: (pid, data) for t, pid, data in queued_events(rt, sf_run_jobs)}
    assert seen["sale.created"][0] == "17" and seen["sale.created"][1]["amount"] == 1500.0
    assert seen["sale.created"][1]["sale_type"] == "Subscription"
    assert seen["sale.created"][1]["stage"] == "open"
    assert seen["request.created"][1]["category"] == "Support"
    assert seen["request.created"][1]["status"] == "active"
    assert seen["request.created"][1]["priority"] == "normal"
    assert seen["follow_up.created"][1]["title"] == "Call Ada"
    assert seen["follow_up.created"][1]["type"] == "task"  # inChecklist
    assert tenant.calls("GET", "Appointment/4402") == 0


def test_unconsent_webhook_becomes_consent_changed(rt, hooks, tenant, sf_run_jobs):
    rt.crm.ledger.remember("17", {"consent.emarketing": True})
    tenant.consents[0] |= {"consentPerson/active": False, "consentPerson/legalBase": "Withdrawn"}
    post(hooks, {"EventId": "c1", "Event": "person.unconsented", "PrimaryKey": 17, "Entity": "person"})
    assert queued_events(rt, sf_run_jobs) == [
        ("consent.changed", "17", {"purpose": "emarketing", "granted": False})
    ]


# -- the selection poll --------------------------------------------------------------------
def test_selection_poll_is_incremental_and_announces_newcomers(rt, tenant, sf_run_jobs):
    poll = SelectionPoll()
    tenant.selection_members["5"] = {"17"}
    # first sight: a baseline for the static (5) and the dynamic (6) selection
    assert poll.run(rt) == "2 selection(s) changed, 0 dynamic read again, 0 new member(s)"
    assert rt.crm.get_person("17")["selections"] == ["5"]
    rt.clock.advance(300)
    since = rt.redis.get(keys.plugin_namespace("superoffice") + ":poll:selections:since")
    # nothing stamped since: only the dynamic selection is read again
    assert poll.run(rt) == "0 selection(s) changed, 1 dynamic read again, 0 new member(s)"
    assert tenant.filters("Selection")[-1] == (
        f"lastMembershipChange afterTime '{since}' or updatedDate afterTime '{since}'"
    )
    tenant.selection_members["5"].add("18")
    tenant.selections["5"]["lastMembershipChange"] = "2999-01-01T00:00:00"
    tenant.selection_members["6"].add("17")  # the data changed: nothing on the selection says so
    assert poll.run(rt) == "1 selection(s) changed, 1 dynamic read again, 2 new member(s)"
    assert tenant.calls("GET", "Selection/6/Members") == 3  # once a round
    assert tenant.calls("GET", "Selection/5/Members") == 2  # first sight, then when stamped
    assert sorted(queued_events(rt, sf_run_jobs)) == [
        ("selection.member_added", "17", {"selection_id": "6"}),
        ("selection.member_added", "18", {"selection_id": "5"}),
    ]


def test_a_selection_that_becomes_static_is_no_longer_read_every_round(rt, tenant):
    poll = SelectionPoll()
    poll.run(rt)
    tenant.selections["6"] |= {"kind": "Statisk", "updatedDate": "2999-01-01T00:00:00"}  # localised
    rt.clock.advance(300)
    assert poll.run(rt) == "1 selection(s) changed, 0 dynamic read again, 0 new member(s)"
    rt.clock.advance(300)
    tenant.selections["6"]["updatedDate"] = "2000-01-01T00:00:00"
    assert poll.run(rt) == "0 selection(s) changed, 0 dynamic read again, 0 new member(s)"


def test_poll_does_nothing_for_another_crm(sf_runtime):
    assert SelectionPoll().run(sf_runtime).startswith("skipped")


# -- commands ------------------------------------------------------------------------------
def test_register_webhook_creates_then_updates(rt, tenant):
    saved = commands.register_webhook(rt.crm.client, rt.config)
    assert saved["TargetUrl"] == "http://superflow.test/hooks/superoffice"
    assert "sale.created" in saved["Events"] and saved["Secret"] == SECRET
    assert saved["Type"] == "webhook" and saved["State"] == "Active"
    # only documented event names (docs/en/automation/webhook/event-details.md)
    assert "appointment.created" not in saved["Events"] and "activity.created" in saved["Events"]
    commands.register_webhook(rt.crm.client, rt.config, url="https://flows.example.com/hooks/superoffice")
    assert [w["TargetUrl"] for w in tenant.webhooks] == ["https://flows.example.com/hooks/superoffice"]


def test_check_reports_each_part(rt, tenant):
    lines = commands.check(rt.crm.client, rt.config)
    assert all(ok for ok, _ in lines[:4])
    assert (True, "tenant time zone: Norway (NO)") in lines
    assert (False, "no 'superflow' webhook: run superflow superoffice register-webhook") in lines
    commands.register_webhook(rt.crm.client, rt.config)
    assert all(ok for ok, _ in commands.check(rt.crm.client, rt.config))


def test_cli_group_is_added(monkeypatch, tenant):
    import click

    group = click.Group("superflow")
    commands.add_commands(group)
    for key, value in SETTINGS.items():
        monkeypatch.setenv(f"SUPERFLOW_{key.upper()}", value)
    monkeypatch.setenv("SUPERFLOW_CRM", "superoffice")
    monkeypatch.setenv("SUPERFLOW_SUPEROFFICE_ACCESS_TOKEN", "valid-token")
    result = CliRunner().invoke(
        group,
        ["superoffice", "register-webhook", "--url", "https://x.test/hooks/superoffice"],
        obj=CommandContext(),
    )
    assert result.exit_code == 0, result.output
    assert "posts" in result.output
    result = CliRunner().invoke(group, ["superoffice", "check"], obj=CommandContext())
    assert result.exit_code == 1 and "PROBLEM" in result.output  # the registered URL is not the base URL


# -- end to end ------------------------------------------------------------------------------


def test_end_to_end_webhook_filters_smtp_and_sale_success(sf_plugin, tenant, sf_smtp_server, sf_run_jobs):
    inbox, port = sf_smtp_server
    rt = so_runtime(sf_plugin, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    hooks = create_app(runtime=rt).test_client()
    doc = flow_doc(
        [email_step("welcome"), {"id": "w", "type": "wait", "settings": {"amount": 7, "unit": "days"}}],
        trigger={"type": "person_created", "settings": {}},
        filters={
            "op": "and",
            "conditions": [
                {"type": "field", "settings": {"field": "company.category", "value": "Customer"}},
                {"type": "consent", "settings": {"purpose": "emarketing"}},
            ],
        },
        success={"criteria": [{"type": "sale_created", "settings": {}}]},
    )
    flow = started(rt, doc)

    created = fixture("webhook_person_created.json")
    assert post(hooks, created).status_code == 200
    # Bjørn (18) has withdrawn e-marketing consent and no company: filtered out
    post(hooks, {**created, "EventId": "other", "PrimaryKey": 18})
    sf_run_jobs(rt)

    [message] = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Hello Ada"
    assert participant_of(rt, flow, "18") is None
    assert participant_of(rt, flow, "17").status == "active"

    tenant.sales["527331"] = {"entity": fixture("sale_entity.json")}
    assert post(hooks, fixture("webhook_sale_created.json")).status_code == 200
    post(hooks, fixture("webhook_sale_created.json"))  # redelivered: ignored
    sf_run_jobs(rt)
    assert participant_of(rt, flow, "17").status == "succeeded"
    assert len(inbox.messages) == 1
