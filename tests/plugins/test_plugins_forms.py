"""Form submitted: as a trigger and as a success criterion."""

from __future__ import annotations

from superflow.events import Event
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def submitted(rt, person_id, form_id):
    rt.emit([Event("form.submitted", person_id, {"form_id": form_id})])


def test_form_submitted_enrols_for_the_chosen_form(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    sf_run_jobs()
    contact_form = started(
        rt, flow_doc([WAIT], trigger={"type": "form_submitted", "settings": {"form": "contact"}})
    )
    any_form = started(rt, flow_doc([WAIT], name="Any", trigger={"type": "form_submitted", "settings": {}}))
    submitted(rt, people[0], "contact")
    submitted(rt, people[1], "webinar")
    sf_run_jobs()
    assert participant_of(rt, contact_form, people[0]).source == "form.submitted"
    assert participant_of(rt, contact_form, people[1]) is None
    assert participant_of(rt, any_form, people[0]) and participant_of(rt, any_form, people[1])
    assert participant_of(rt, any_form, people[0]).event == {"form_id": "contact"}


def test_form_submitted_is_success(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    success = {"criteria": [{"type": "form_submitted", "settings": {"form": "demo-request"}}]}
    flow = started(rt, flow_doc([WAIT], success=success))
    rt.emit([Event("api.event", pid, {"name": "signed_up"}) for pid in people[:2]])
    sf_run_jobs()
    submitted(rt, people[0], "demo-request")
    submitted(rt, people[1], "newsletter")
    sf_run_jobs()
    p = participant_of(rt, flow, people[0])
    assert p.status == "succeeded" and p.reason == "success: form.submitted"
    assert participant_of(rt, flow, people[1]).status == "active"


def test_bad_settings_are_named(sf_runtime):
    doc = flow_doc(
        [WAIT],
        trigger={"type": "form_submitted", "settings": {"form": 12}},
        success={"criteria": [{"type": "form_submitted", "settings": {"forms": "x"}}]},
    )
    errors = {e["field"]: e["message"] for e in refused_save(sf_runtime, doc)}
    assert errors == {
        "trigger.settings.form": "Not a valid string.",
        "success.criteria[0].settings.forms": "Unknown field.",
    }
