"""The projects plugin: add to / remove from project steps, the "added to project"
trigger and success criterion, and the "member of project" filter."""

from __future__ import annotations

from superflow.events import Event
from superflow.testing import crash_after_effects
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 3, "unit": "days"}}


def members(crm, project):
    return {m["person_id"]: (m["member_type"], m["status"]) for m in crm.project_members(project)}


def test_add_to_and_remove_from_project(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    autumn = crm.create_project("Autumn campaign")["id"]
    spring = crm.create_project("Spring fair")["id"]
    crm.add_to_project(spring, people[:3])
    steps = [
        {
            "id": "add",
            "type": "add_to_project",
            "settings": {"project": autumn, "member_type": "Participant", "status": "Invited"},
        },
        {"id": "remove", "type": "remove_from_project", "settings": {"project": spring}},
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, people[0], people[1])
    sf_run_jobs()

    assert members(crm, autumn) == {
        people[0]: ("Participant", "Invited"),
        people[1]: ("Participant", "Invited"),
    }
    assert list(members(crm, spring)) == [people[2]]
    assert crm.get_person(people[0])["projects"] == [autumn]
    history = [
        h["note"] for h in rt.store.history(participant_of(rt, flow, people[0]).id) if h["kind"] == "step"
    ]
    assert history == [f"added to project {autumn} as Participant", f"removed from project {spring}"]
    stats = rt.store.stats(flow.id)
    assert (stats["projects.added"], stats["projects.removed"], stats["completed"]) == (2, 2, 2)


def test_a_project_that_does_not_exist_exits_with_the_reason(sf_runtime, sf_run_jobs, people):
    flow = started(
        sf_runtime, flow_doc([{"id": "add", "type": "add_to_project", "settings": {"project": "99"}}])
    )
    signed_up(sf_runtime, people[0])
    sf_run_jobs()
    p = participant_of(sf_runtime, flow, people[0])
    assert p.status == "exited" and p.reason == "not added to project 99: project 99 does not exist"


def test_running_the_step_again_after_a_crash_adds_once(sf_runtime, sf_run_jobs, crm, people, monkeypatch):
    rt = sf_runtime
    autumn = crm.create_project("Autumn campaign")["id"]
    flow = started(
        rt, flow_doc([{"id": "add", "type": "add_to_project", "settings": {"project": autumn}}, WAIT])
    )
    trigger = {"type": "added_to_project", "settings": {"project": autumn}}
    listener = started(rt, flow_doc([WAIT], trigger=trigger, name="Listener"))
    rt.engine.handle_events([Event("api.event", people[0], {"name": "signed_up"})])
    pid = participant_of(rt, flow, people[0]).id

    crash_after_effects(rt, [pid])
    rt.engine.advance([pid])
    sf_run_jobs()

    assert list(members(crm, autumn)) == [people[0]]
    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)["projects.added"] == 1
    # One project.member_added event: the listening flow enrolled the person once.
    assert rt.store.stats(listener.id)["enrolled"] == 1


def test_added_to_project_trigger_filter_and_criterion(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    autumn = crm.create_project("Autumn campaign")["id"]
    spring = crm.create_project("Spring fair")["id"]
    crm.add_to_project(spring, [people[0], people[1]])
    sf_run_jobs()

    trigger = {"type": "added_to_project", "settings": {"project": autumn, "member_type": "speaker"}}
    speakers = started(
        rt,
        flow_doc(
            [WAIT],
            trigger=trigger,
            filters={"conditions": [{"type": "in_project", "settings": {"project": spring}}]},
            name="Speakers",
        ),
    )
    success = {"criteria": [{"type": "added_to_project", "settings": {"project": autumn}}]}
    invited = started(rt, flow_doc([WAIT], success=success, name="Invitation"))
    signed_up(rt, people[2], people[3])
    sf_run_jobs()

    # A colleague adds people to the autumn project in the CRM.
    crm.add_to_project(autumn, [people[0]], member_type="Speaker")
    crm.add_to_project(autumn, [people[1]], member_type="Guest")
    crm.add_to_project(autumn, [people[2]], member_type="Speaker")
    sf_run_jobs()

    # Only speakers who are also in the spring project enter "Speakers".
    assert participant_of(rt, speakers, people[0]).source == "project.member_added"
    assert participant_of(rt, speakers, people[1]) is None
    assert participant_of(rt, speakers, people[2]) is None
    p = participant_of(rt, invited, people[2])
    assert p.status == "succeeded" and p.reason == "success: project.member_added"
    assert participant_of(rt, invited, people[3]).status == "active"


def test_the_criterion_also_holds_for_a_member_before_the_next_step(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    autumn = crm.create_project("Autumn campaign")["id"]
    crm.add_to_project(autumn, [people[0]])
    sf_run_jobs()
    success = {"criteria": [{"type": "added_to_project", "settings": {"project": autumn}}]}
    flow = started(rt, flow_doc([WAIT], success=success))
    signed_up(rt, people[0], people[1])
    sf_run_jobs()
    member = participant_of(rt, flow, people[0])
    assert member.status == "succeeded" and member.reason == "success criteria met"
    assert participant_of(rt, flow, people[1]).status == "active"


def test_settings_are_checked_with_the_field_named(sf_runtime):
    rt = sf_runtime
    invalid = refused_save(
        rt, flow_doc([{"id": "a", "type": "add_to_project", "settings": {"project": 7, "status": 1}}])
    )
    assert {(e["field"], e["message"]) for e in invalid} == {
        ("steps[0].settings.project", "Not a valid string."),
        ("steps[0].settings.status", "Not a valid string."),
    }
    assert refused_start(
        rt,
        flow_doc(
            [{"id": "a", "type": "remove_from_project", "settings": {}}],
            trigger={"type": "added_to_project", "settings": {}},
            filters={"conditions": [{"type": "in_project", "settings": {}}]},
        ),
    ) == [
        "Trigger 'Added to project': Project is required",
        "Filter 'Member of project': Project is required",
        "Step 1 'Remove from project': Project is required",
    ]


def test_components_describe_themselves(sf_runtime):
    registry = sf_runtime.registry
    assert registry.step_type("add_to_project").describe({"project": "3"}) == "Add to project 3"
    assert registry.trigger("added_to_project").describe({"project": "3", "member_type": "Speaker"}) == (
        "When a person is added to project 3 as Speaker"
    )
    components = [
        registry.step_type("add_to_project"),
        registry.step_type("remove_from_project"),
        registry.trigger("added_to_project"),
        registry.filter("in_project"),
        registry.criterion("added_to_project"),
    ]
    for component in components:
        assert component.category == "Projects"
        for name, field in component.settings_schema().fields.items():
            assert field.metadata.get("label") and field.metadata.get("help"), f"{component.name}.{name}"
