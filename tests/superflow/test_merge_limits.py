"""Merge tags cannot take the server down: hostile templates are refused with a clear
message in a preview, at save (designer and API) and at send, while the web process's
memory stays bounded and the worker goes on with everyone else."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from superflow import keys
from superflow import merge
from superflow.events import Event
from superflow.plugins.outbox import Outbox
from superflow.testing import SignedInSession
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import started

TOO_LARGE = "the merge tags make the text longer than 1 MB"
HOSTILE = {
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}": "too deeply",
    "{{ 'x'*300000000 }}": TOO_LARGE,
    "{{ range(10**9)|join }}": "at most 10,000",
    "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}": "at most 10,000",
    "{% for i in range(9999) %}{% for j in range(9999) %}x{% endfor %}{% endfor %}": TOO_LARGE,
    "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}": "longer than 2 s",
    "{{ 'x'|center(10**9) }}": TOO_LARGE,
    "{{ 'x'|center(1000000000) }}": TOO_LARGE,
    "{{ ('x'*1000)*1000*1000 }}": TOO_LARGE,
    "{{ 'a'*10**6 + 'b'*10**6 }}": TOO_LARGE,
    "{{ '%s'|format('x')*300000000 }}": TOO_LARGE,
    "{{ '%999999999s'|format('x') }}": TOO_LARGE,
    "{{ '{:>999999999}'.format('x') }}": TOO_LARGE,
    "{{ 'x'.ljust(999999999) }}": TOO_LARGE,
    "{{ 'x'|indent(999999999, true) }}": TOO_LARGE,
    "{{ lipsum(10**6) }}": TOO_LARGE,
    "{{ 9**999999 }}": "too large a number",
    "{% set a = 'x'*900000 %}{{ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a }}": TOO_LARGE,
    "{% set a = ['x'*900000] * 9 %}{{ a|join }}{{ a }}": TOO_LARGE,
}


def vm_hwm_mb() -> float:
    """The peak resident memory of this process (the web app's threads run in it)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def step_with(subject: str) -> dict[str, Any]:
    return {"type": "send_email", "settings": email_step("x", subject=subject)["settings"]}


def test_hostile_merge_tags_in_a_viewers_preview_are_refused_and_memory_stays_bounded(
    sf_runtime, sf_live_server, people
):
    viewer = SignedInSession(sf_runtime, sf_live_server, "viewer")
    before = vm_hwm_mb()
    for template, reason in HOSTILE.items():
        reply = viewer.post(
            sf_live_server + "/designer/preview", json={"step": step_with(template), "person_id": people[0]}
        )
        assert reply.status_code == 422, (template, reply.text[:300])
        errors = reply.json()["errors"]
        assert {e["field"] for e in errors} == {"step.settings.subject"}, template
        assert all(e["message"].startswith("Subject: ") for e in errors), errors
        assert any(reason in e["message"] for e in errors), (template, errors)
    grown = vm_hwm_mb() - before
    assert grown < 200, f"the web process grew by {grown:.0f} MB"

    fine = viewer.post(
        sf_live_server + "/designer/preview",
        json={"step": step_with("{{ 'ab' * 3 }} {{ person.first_name }}"), "person_id": people[0]},
    )
    assert fine.status_code == 200 and fine.json()["content"][0]["subject"] == "ababab Ada"
    refused = viewer.post(
        sf_live_server + "/designer/send-test",
        json={"step": step_with("Hi"), "person_id": people[0], "to": "me@example.com"},
    )
    assert refused.status_code == 403, "a viewer may look at the content, not send it"


def test_a_test_send_with_a_hostile_tag_is_refused_naming_the_field(sf_runtime, sf_live_server, people):
    editor = SignedInSession(sf_runtime, sf_live_server, "content_editor")
    reply = editor.post(
        sf_live_server + "/designer/send-test",
        json={"step": step_with("{{ 'x'*300000000 }}"), "person_id": people[0], "to": "me@example.com"},
    )
    assert reply.status_code == 422
    assert reply.json()["errors"] == [{"field": "step.settings.subject", "message": f"Subject: {TOO_LARGE}"}]
    assert Outbox(sf_runtime.config).count("email") == 0


UNSAFE = {
    "{{ 'x'*300000000 }}": TOO_LARGE,
    "{{ ''.__class__ }}": "may not use __class__",
    "{{ person.first_name|attr('__class__') }}": "may not use __class__",
    "{{ person|attr(person.first_name) }}": "attr() needs a name written out",
    "{{ 'abc'.upper() }}": "written-out text",
    "{{ '{0.__class__}'.format(person) }}": "may not use __class__",
    "{{ person['__init__'] }}": "may not use __init__",
}


def test_the_api_refuses_to_save_a_flow_with_hostile_or_unsafe_tags(api, error_fields):
    for template, reason in UNSAFE.items():
        doc = flow_doc(
            [{"id": "w", "type": "wait", "settings": {"amount": 1}}, email_step("hi", subject=template)]
        )
        reply = api("POST", "/flows", json=doc)
        assert reply.status_code == 422, (template, reply.text[:300])
        assert error_fields(reply) == ["steps[1].settings.subject"], template
        assert reason in reply.json()["errors"][0]["message"], (template, reply.json())
    assert api.ok("GET", "/flows")["total"] == 0


def test_the_designer_refuses_to_save_a_flow_with_a_hostile_tag(sf_runtime, sf_live_server):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    doc = flow_doc([email_step("hello", html="<p>{{ ('x'*1000)*1000*1000 }}</p>")], name="Bomb")
    reply = admin.post(sf_live_server + "/designer/save", json={"doc": doc})
    assert reply.status_code == 422
    [error] = reply.json()["errors"]
    assert error == {"field": "steps[0].settings.html", "message": TOO_LARGE}
    checked = admin.post(sf_live_server + "/designer/check", json={"doc": doc}).json()
    assert checked["errors"] == [error]


def test_a_participant_whose_event_makes_the_text_huge_exits_with_the_reason(sf_runtime, sf_run_jobs, people):
    signed_up = {"type": "api_event", "settings": {"name": "signed_up", "sample": '{"code": "ab"}'}}
    flow = started(
        sf_runtime,
        flow_doc([email_step("hello", subject="Your code: {{ event.code * 1000 }}")], trigger=signed_up),
    )
    sf_runtime.emit(
        [
            Event("api.event", people[0], {"name": "signed_up", "code": "x" * 2000}),
            Event("api.event", people[1], {"name": "signed_up", "code": "ab"}),
        ]
    )
    sf_run_jobs()
    huge = participant_of(sf_runtime, flow, people[0])
    assert huge.status == "exited" and huge.reason == f"cannot send: Subject: {TOO_LARGE}"
    (mail,) = Outbox(sf_runtime.config).messages("email")
    assert mail["subject"] == "Your code: " + "ab" * 1000
    assert participant_of(sf_runtime, flow, people[1]).status == "completed"


def test_rendering_raises_a_clear_error_type_for_each_budget():
    scope = merge.scope({"first_name": "Ada"})
    with pytest.raises(merge.MergeTooLarge, match="longer than 1 MB"):
        merge.render("{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}", scope)
    with pytest.raises(merge.MergeTooSlow, match="longer than 2 s"):
        merge.render("{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}", scope)
    assert issubclass(merge.MergeTooSlow, merge.MergeError)
    small = merge.Limits(max_output=100, max_seconds=2.0)
    with pytest.raises(merge.MergeTooLarge, match="longer than 100 characters"):
        merge.render("{{ person.first_name * 50 }}", scope, limits=small)


def test_a_flow_stored_before_these_checks_cannot_start_with_a_hostile_tag(sf_runtime, api, error_fields):
    flow = api.ok("POST", "/flows", 201, json=flow_doc([email_step("hello")], name="Old"))
    doc = sf_runtime.store.flow_doc(flow["id"])
    doc["steps"][0]["settings"]["subject"] = "{{ 'x'*300000000 }}"
    # what an older superflow let through, written as it stored flows
    sf_runtime.redis.hset(keys.flow(flow["id"]), "doc", json.dumps(doc))
    sf_runtime.redis.hset(keys.flow_versions(flow["id"]), "1", json.dumps(doc))
    ready = api.ok("GET", f"/flows/{flow['id']}/readiness")
    assert ready == {"ready": False, "problems": [f"Step 1 'Send email': Subject: {TOO_LARGE}"]}
    refused = api("POST", f"/flows/{flow['id']}/start")
    assert refused.status_code == 409 and error_fields(refused) == ["(readiness)"]
    assert TOO_LARGE in refused.json()["errors"][0]["message"]
    assert api.ok("GET", f"/flows/{flow['id']}")["status"] == "draft"
