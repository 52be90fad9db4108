"""Flows through the JSON API: the designer's validation, ETags, versions, copy,
export/import, readiness and the run lifecycle."""

from __future__ import annotations

from superflow.testing import email_step
from superflow.testing import flow_doc


def wait_step(step_id="w"):
    return {"id": step_id, "type": "wait", "settings": {"amount": 1}}


def test_missing_settings_save_and_readiness_lists_them(api, error_fields):
    doc = flow_doc([{"id": "hello", "type": "send_email", "settings": {}}], name="Half done")
    flow = api.ok("POST", "/flows", 201, json=doc)
    assert flow["status"] == "draft" and flow["version"] == 1 and flow["updated_by"].startswith("api:")
    ready = api.ok("GET", f"/flows/{flow['id']}/readiness")
    assert ready["ready"] is False
    assert any("Subject is required" in p for p in ready["problems"])
    refused = api("POST", f"/flows/{flow['id']}/start")
    assert refused.status_code == 409
    assert set(error_fields(refused)) == {"(readiness)"}
    assert api.ok("GET", f"/flows/{flow['id']}")["status"] == "draft"


def test_wrong_settings_are_named_field_by_field(api, error_fields):
    doc = flow_doc([wait_step("a"), wait_step("b"), email_step("c", subject="Hi {{person.nope}}")])
    doc["steps"][1]["settings"]["amount"] = "many"
    r = api("POST", "/flows", json=doc)
    assert r.status_code == 422
    assert set(error_fields(r)) == {"steps[1].settings.amount"}, (
        "an unknown merge tag is a problem, not an error"
    )
    r = api("POST", "/flows", json=dict(doc, reenrollment="sometimes"))
    assert r.status_code == 422 and error_fields(r) == ["reenrollment"]
    assert (
        api("POST", "/flows", data="{not json", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert api.ok("GET", "/flows")["total"] == 0


def test_etag_guards_updates(api, error_fields):
    flow = api.ok("POST", "/flows", 201, json=flow_doc([wait_step()], name="Shared"))
    path = f"/flows/{flow['id']}"
    first = api("GET", path)
    etag = first.headers["ETag"]
    assert etag == flow["etag"]
    no_match = api("PUT", path, json=flow_doc([wait_step()], name="Mine"))
    assert no_match.status_code == 428 and error_fields(no_match) == ["If-Match"]
    saved = api("PUT", path, json=flow_doc([wait_step()], name="Editor one"), headers={"If-Match": etag})
    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert saved.headers["ETag"] != etag
    stale = api("PUT", path, json=flow_doc([wait_step()], name="Editor two"), headers={"If-Match": etag})
    assert stale.status_code == 412 and error_fields(stale) == ["If-Match"]
    assert api.ok("GET", path)["name"] == "Editor one"
    patched = api.ok(
        "PATCH",
        path,
        json={"description": "patched", "send_window": None},
        headers={"If-Match": saved.headers["ETag"]},
    )
    assert patched["document"]["description"] == "patched" and patched["version"] == 3
    bad = api(
        "PATCH",
        path,
        json={"steps": [{"id": "x", "type": "wait", "settings": {"amount": -1}}]},
        headers={"If-Match": patched["etag"]},
    )
    assert bad.status_code == 422 and error_fields(bad) == ["steps[0].settings.amount"]
    versions = api.ok("GET", f"{path}/versions")
    assert versions == {"flow_id": flow["id"], "current": 3, "versions": [1, 2, 3]}
    assert api.ok("GET", f"{path}/versions/1")["name"] == "Shared"
    assert error_fields(api("GET", f"{path}/versions/9")) == ["version"]


def test_copy_export_import_delete_and_search(api, error_fields):
    flow = api.ok("POST", "/flows", 201, json=flow_doc([wait_step()], name="Original"))
    copy = api.ok("POST", f"/flows/{flow['id']}/copy", 201)
    assert copy["name"] == "Copy of Original" and copy["id"] != flow["id"]
    exported = api("GET", f"/flows/{flow['id']}/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    imported = api.ok("POST", "/flows/import", 201, json=exported.json())
    assert imported["document"]["steps"] == flow["document"]["steps"] and imported["status"] == "draft"
    listed = api.ok("GET", "/flows", params={"q": "copy"})
    assert [f["id"] for f in listed["flows"]] == [copy["id"]]
    assert api.ok("GET", "/flows", params={"limit": 1})["total"] == 3
    bad = api("GET", "/flows", params={"limit": 0, "status": "sleeping"})
    assert bad.status_code == 422 and set(error_fields(bad)) == {"limit", "status"}
    api.ok("DELETE", f"/flows/{copy['id']}", 204)
    gone = api("GET", f"/flows/{copy['id']}")
    assert gone.status_code == 404 and error_fields(gone) == ["flow_id"]


def test_start_pause_resume_end(api, people, error_fields):
    flow = api.ok("POST", "/flows", 201, json=flow_doc([wait_step()]))
    path = f"/flows/{flow['id']}"
    assert api.ok("POST", f"{path}/start")["status"] == "running"
    longer = flow_doc([{**wait_step(), "settings": {"amount": 2}}])
    running_edit = api("PUT", path, json=longer, headers={"If-Match": "*"})
    assert running_edit.status_code == 409 and error_fields(running_edit) == ["status"]
    assert api.ok("POST", f"{path}/pause")["status"] == "paused"
    assert api("POST", f"{path}/pause").status_code == 409
    assert api.ok("POST", f"{path}/resume")["status"] == "running"
    ended = api.ok("POST", f"{path}/end")
    assert ended["status"] == "ended" and ended["cancelled"] == 0
    assert api("DELETE", path).status_code == 204
