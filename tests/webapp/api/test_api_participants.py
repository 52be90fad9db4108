"""Participants and events through the JSON API, with an in-process worker
(``sf_run_jobs``) between calls: enrol, list, history, move, remove; events single
and batched; the report's counters."""

from __future__ import annotations

from superflow.testing import email_step
from superflow.testing import flow_doc

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def running(api, doc):
    flow = api.ok("POST", "/flows", 201, json=doc)
    api.ok("POST", f"/flows/{flow['id']}/start")
    return flow["id"]


def test_enrol_list_move_and_remove(api, people, sf_run_jobs, sf_runtime, monkeypatch, error_fields):
    fid = running(api, flow_doc([WAIT, email_step("hello")], trigger={"type": "manual", "settings": {}}))
    queued = api.ok("POST", f"/flows/{fid}/participants", 202, json={"person_ids": people[:3]})
    assert queued["queued"] == 3
    sf_run_jobs()
    listed = api.ok("GET", f"/flows/{fid}/participants", params={"status": "active", "step": "w"})
    assert len(listed["participants"]) == 3 and listed["next_offset"] is None
    page = api.ok("GET", f"/flows/{fid}/participants", params={"limit": 2})
    assert len(page["participants"]) == 2 and page["next_offset"] == 2
    first, second = (p["id"] for p in listed["participants"][:2])
    detail = api.ok("GET", f"/participants/{first}")
    assert [h["kind"] for h in detail["history"]][:1] == ["enrolled"] and detail["wait"]

    moved = api.ok("POST", f"/participants/{first}/move", json={"step_id": "hello"})
    assert moved["step"] == "hello"
    sf_run_jobs()
    done = api.ok("GET", f"/participants/{first}")
    assert done["status"] == "completed" and done["last_sending"]["step"] == "hello"
    bad_step = api("POST", f"/participants/{second}/move", json={"step_id": "nowhere"})
    assert bad_step.status_code == 422 and error_fields(bad_step) == ["step_id"]

    removed = api.ok("DELETE", f"/participants/{second}")
    assert removed["status"] == "cancelled" and "removed by api:" in removed["reason"]
    again = api("DELETE", f"/participants/{second}")
    assert again.status_code == 409 and error_fields(again) == ["status"]
    assert error_fields(api("GET", "/participants/999.1")) == ["participant_id"]
    stats = api.ok("GET", f"/flows/{fid}/report")["totals"]
    assert (
        stats["enrolled"] == 3
        and stats["completed"] == 1
        and stats["cancelled"] == 1
        and stats["active"] == 1
    )

    unknown = api("POST", f"/flows/{fid}/participants", json={"person_ids": [people[0], "424242"]})
    assert unknown.status_code == 422 and error_fields(unknown) == ["person_ids[1]"]
    nobody = api("POST", f"/flows/{fid}/participants", json={})
    assert nobody.status_code == 422 and error_fields(nobody) == ["person_ids"]
    trigger = type(sf_runtime.registry.trigger("manual"))
    monkeypatch.setattr(trigger, "allows_manual_enrolment", False)
    refused = api("POST", f"/flows/{fid}/participants", json={"person_ids": people[:1]})
    assert refused.status_code == 409 and error_fields(refused) == ["trigger"]


def test_events_single_and_batch_enrol_and_report(api, people, sf_run_jobs, crm):
    fid = running(api, flow_doc([email_step("hello"), WAIT]))
    one = api.ok(
        "POST", "/events", 202, json={"type": "signed_up", "person_id": people[0], "data": {"page": "/x"}}
    )
    assert one["accepted"] == 1 and len(one["ids"]) == 1
    batch = [
        {"type": "signed_up", "email": "DAG@example.com"},
        {"type": "signed_up", "email": "eva@example.com"},
        {"type": "something_else", "person_id": people[1]},
    ]
    assert api.ok("POST", "/events/batch", 202, json={"events": batch})["accepted"] == 3
    sf_run_jobs()
    listed = api.ok("GET", f"/flows/{fid}/participants")["participants"]
    assert sorted(p["person_id"] for p in listed) == sorted([people[0], people[3], people[4]])
    assert all(p["step"] == "w" for p in listed)
    report = api.ok("GET", f"/flows/{fid}/report")
    assert report["totals"]["enrolled"] == 3
    assert [s["id"] for s in report["steps"]] == ["hello", "w"]
    assert report["steps"][0]["passed"] == 3 and report["steps"][1]["at"] == 3
    assert sum(d["counters"].get("enrolled", 0) for d in report["daily"]) == 3
    assert len(report["daily"]) == 30


def test_bad_events_name_the_field_and_queue_nothing(api, people, sf_runtime, error_fields):
    queued = sf_runtime.queue.count
    bad = api(
        "POST",
        "/events/batch",
        json={
            "events": [{"type": "a", "person_id": people[0]}, {"type": "a", "email": "nobody@example.com"}]
        },
    )
    assert bad.status_code == 422 and error_fields(bad) == ["events[1].email"]
    assert sf_runtime.queue.count == queued
    cases = {
        "person": {"type": "a"},
        "type": {"person_id": people[0]},
        "data.participant_id": {"type": "a", "person_id": people[0], "data": {"participant_id": "1.1"}},
        "email": {"type": "a", "email": "not an email"},
        "person_id": {"type": "a", "person_id": "424242"},
    }
    for field, body in cases.items():
        r = api("POST", "/events", json=body)
        assert r.status_code == 422, (field, r.text)
        assert field in error_fields(r), (field, r.text)
    empty = api("POST", "/events/batch", json={"events": []})
    assert error_fields(empty) == ["events"]
    report = api("GET", "/flows/1/report", params={"from": "2025-02-01", "to": "2025-01-01"})
    assert report.status_code in (404, 422)


def test_list_filters_sorts_and_counts(api, people, sf_run_jobs, error_fields):
    fid = running(api, flow_doc([WAIT, email_step("hello")], trigger={"type": "manual", "settings": {}}))
    api.ok("POST", f"/flows/{fid}/participants", 202, json={"person_ids": people[:4]})
    sf_run_jobs()
    ids = [f"{fid}.{n}" for n in (1, 2, 3, 4)]
    api.ok("DELETE", f"/participants/{ids[1]}")
    api.ok("POST", f"/participants/{ids[2]}/move", json={"step_id": "hello"})
    sf_run_jobs()

    def listed(**params):
        page = api.ok("GET", f"/flows/{fid}/participants", params=params)
        return [p["id"] for p in page["participants"]], page["total"], page["next_offset"]

    assert listed() == ([ids[3], ids[2], ids[1], ids[0]], 4, None)
    assert listed(order="asc", limit=3) == (ids[:3], 4, 3)
    assert listed(sort="status", order="asc") == ([ids[0], ids[3], ids[2], ids[1]], 4, None)
    assert listed(sort="status", order="asc", offset=1, limit=2) == ([ids[3], ids[2]], 4, 3)
    assert listed(sort="step", order="asc", status="active") == ([ids[0], ids[3]], 2, None)
    assert listed(status="completed") == ([ids[2]], 1, None)
    assert listed(status="cancelled", step="w") == ([], 0, None)
    assert error_fields(api("GET", f"/flows/{fid}/participants", params={"sort": "person"})) == ["sort"]
    assert error_fields(api("GET", f"/flows/{fid}/participants", params={"order": "up"})) == ["order"]
