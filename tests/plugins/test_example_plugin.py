"""The worked example plugin, examples/plugins/superflow_loyalty, found and run as a
third-party plugin would be: through the ``superflow`` entry-point group, and end to
end on a real Redis and the local CRM with the fixtures of ``superflow.testing``."""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from superflow import flows
from superflow.cli import cli
from superflow.events import Event
from superflow.registry import load_registry
from superflow.testing import crash_after_effects
from superflow.testing import participant_of
from superflow.testing import refused_start

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "superflow_loyalty"
REGISTERED = {
    "step_types": ["award_points"],
    "success_criteria": ["tier_reached"],
    "triggers": ["points_reached"],
}


@pytest.fixture
def loyalty(monkeypatch) -> ModuleType:
    """The example plugin's module, importable from its source folder."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return importlib.import_module("superflow_loyalty")


@pytest.fixture
def installed(tmp_path, monkeypatch, loyalty) -> None:
    """What ``pip install`` leaves behind, without pip: a dist-info folder with the
    entry point, on ``sys.path``."""
    dist = tmp_path / "site" / "superflow_loyalty-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: superflow-loyalty\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[superflow]\nsuperflow_loyalty = superflow_loyalty\n")
    monkeypatch.syspath_prepend(str(dist.parent))


# -- discovery ---------------------------------------------------------------------
def test_found_through_the_superflow_entry_point_group(installed, loyalty):
    registry = load_registry()
    assert registry.owners[("step_types", "award_points")] == "superflow_loyalty"
    assert registry.owners[("triggers", "points_reached")] == "superflow_loyalty"
    assert registry.owners[("success_criteria", "tier_reached")] == "superflow_loyalty"
    assert registry.pm.get_plugin("superflow_loyalty") is loyalty
    rows = {row["name"]: row for row in registry.plugins()}
    row = rows["superflow_loyalty"]
    assert row["broken"] is False
    assert row["registered"] == REGISTERED
    assert row["hooks"] == [
        "superflow_participant_finished",
        "superflow_register_step_types",
        "superflow_register_success_criteria",
        "superflow_register_triggers",
    ]
    # The built-ins load beside it, under their dotted names.
    assert registry.owners[("step_types", "wait")] == "superflow.plugins.flow_control"


def test_superflow_plugins_narrows_to_the_named_ones(installed):
    registry = load_registry(only=["superflow_loyalty", "superflow.plugins.flow_control"])
    assert {row["name"] for row in registry.plugins()} == {
        "superflow_loyalty",
        "superflow.plugins.flow_control",
    }
    assert "send_email" not in registry.all("step_types")


def test_schemas_carry_labels_and_help(loyalty):
    for component in (loyalty.AwardPoints(), loyalty.PointsReached(), loyalty.TierReached()):
        assert component.category == "Loyalty" and component.label
        for name, field in component.settings_schema().fields.items():
            assert field.metadata.get("label"), f"{component.name}.{name} has no label"
            assert field.metadata.get("help"), f"{component.name}.{name} has no help"


def test_listed_by_the_cli(installed, tmp_path, monkeypatch):
    monkeypatch.delenv("SUPERFLOW_PLUGINS", raising=False)
    monkeypatch.setenv("SUPERFLOW_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    result = runner.invoke(cli, ["plugins", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index("superflow_loyalty")
    assert lines[at + 1 : at + 4] == [
        "  step_types: award_points",
        "  success_criteria: tier_reached",
        "  triggers: points_reached",
    ]

    result = runner.invoke(cli, ["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["superflow_loyalty"]["registered"] == REGISTERED


# -- end to end ----------------------------------------------------------------------
@pytest.fixture
def rt(sf_plugin, loyalty):
    runtime = sf_plugin(loyalty)
    runtime.crm.define_field("loyalty_points", "Loyalty points", "number")
    return runtime


def person(rt, first_name, **fields):
    return rt.crm.create_person(first_name=first_name, email=f"{first_name.lower()}@example.com", **fields)[
        "id"
    ]


def points(rt, person_id):
    return rt.crm.get_person(person_id)["fields"].get("loyalty_points")


def loyalty_doc(**extra):
    return {
        "format_version": 1,
        "name": extra.pop("name", "Loyalty welcome"),
        "trigger": {"type": "api_event", "settings": {"name": "joined"}},
        "steps": [
            {"id": "welcome", "type": "award_points", "settings": {"points": 100}},
            {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
            {"id": "bonus", "type": "award_points", "settings": {"points": 50}},
        ],
        **extra,
    }


def start(rt, doc):
    return flows.start(rt, flows.create(rt, doc).id)


def joined(rt, *person_ids):
    rt.emit([Event("api.event", pid, {"name": "joined"}) for pid in person_ids])


def test_award_trigger_and_success_end_to_end(rt, sf_run_jobs, caplog):
    caplog.set_level(logging.INFO, logger="superflow_loyalty")
    ada = person(rt, "Ada")
    bjorn = person(rt, "Bjorn", loyalty_points=450)
    cecilie = person(rt, "Cecilie", loyalty_points=600)
    dag = person(rt, "Dag")
    sf_run_jobs(rt)  # the person.created events, before any flow listens

    success = {"criteria": [{"type": "tier_reached", "settings": {"threshold": 500}}]}
    welcome = start(rt, loyalty_doc(success=success))
    gold = start(
        rt,
        {
            "name": "Gold members",
            "trigger": {"type": "points_reached", "settings": {"threshold": 500}},
            "steps": [{"id": "gold", "type": "award_points", "settings": {"points": 25}}],
        },
    )
    joined(rt, ada, bjorn, cecilie, dag)
    sf_run_jobs(rt)

    # Ada and Dag got the first award and wait a day for the second.
    assert points(rt, ada) == points(rt, dag) == 100
    assert participant_of(rt, welcome, ada).step == participant_of(rt, welcome, dag).step == "w"
    # Cecilie already had 600: tier_reached holds before the first step; no award.
    c = participant_of(rt, welcome, cecilie)
    assert c.status == "succeeded" and c.reason == "success criteria met"
    assert points(rt, cecilie) == 600
    # Bjørn's award took him from 450 to 550, so the criterion held before his next
    # step; and points_reached saw 450 -> 550 cross 500 and enrolled him in the gold
    # flow, whose own award (550 -> 575) crosses nothing.
    b = participant_of(rt, welcome, bjorn)
    assert b.status == "succeeded" and b.reason == "success criteria met"
    g = participant_of(rt, gold, bjorn)
    assert g.status == "completed" and "person.updated" in g.source
    assert points(rt, bjorn) == 575
    assert participant_of(rt, gold, ada) is None and participant_of(rt, gold, cecilie) is None

    # A colleague gives Dag 400 points in the CRM while he waits: the person.updated
    # event matches tier_reached (and points_reached, for the gold flow).
    rt.crm.update_person(dag, {"loyalty_points": 500})
    sf_run_jobs(rt)
    d = participant_of(rt, welcome, dag)
    assert d.status == "succeeded" and d.reason == "success: person.updated"
    assert participant_of(rt, gold, dag).status == "completed"
    assert points(rt, dag) == 525

    rt.clock.advance(86400 + 1)
    sf_run_jobs(rt)
    assert points(rt, ada) == 150
    assert participant_of(rt, welcome, ada).status == "completed"
    assert points(rt, dag) == 525  # succeeded: no bonus

    stats = rt.store.stats(welcome.id)
    assert stats["step:welcome:loyalty.points"] == 300  # Ada, Bjørn and Dag, 100 each
    assert stats["step:bonus:loyalty.points"] == 50  # Ada only
    assert stats["loyalty.points"] == 350
    assert (stats["enrolled"], stats["succeeded"], stats["completed"], stats["active"]) == (4, 3, 1, 0)
    assert rt.store.stats(gold.id)["step:gold:loyalty.points"] == 50
    history = [
        h["note"] for h in rt.store.history(participant_of(rt, welcome, ada).id) if h["kind"] == "step"
    ]
    assert history == ["awarded 100 points", "waiting 1 day", "awarded 50 points"]

    # superflow_participant_finished logged every ending: four in the welcome flow,
    # two in the gold flow.
    logged = [r.getMessage() for r in caplog.records if r.name == "superflow_loyalty"]
    assert len(logged) == 6
    assert (
        f"participant {d.id} (person {dag}) of flow {welcome.id} finished: succeeded"
        " (success: person.updated)"
    ) in logged
    a = participant_of(rt, welcome, ada)
    assert f"participant {a.id} (person {ada}) of flow {welcome.id} finished: completed" in logged


def test_running_the_step_again_does_not_award_twice(rt, sf_run_jobs, monkeypatch):
    ada = person(rt, "Ada")
    sf_run_jobs(rt)
    flow = start(rt, loyalty_doc())
    # Handle the event here, so the enrolment is stored and its advance job queued.
    rt.engine.handle_events([Event("api.event", ada, {"name": "joined"})])
    pid = participant_of(rt, flow, ada).id

    # The worker dies after the step's CRM write and before the engine's MULTI/EXEC
    # that records it: nothing of the step is stored in Redis.
    retried = []
    award = rt.registry.step_type("award_points")
    run_step = award.execute_batch

    def watching(ctxs):
        retried.extend(ctx.retried for ctx in ctxs)
        return run_step(ctxs)

    monkeypatch.setattr(award, "execute_batch", watching)

    crash_after_effects(rt, [pid])
    assert points(rt, ada) == 100
    p = rt.store.participant(pid)
    assert p.step == "welcome" and p.running  # the next run is told ctx.retried
    assert "step:welcome:loyalty.points" not in rt.store.stats(flow.id)

    # The step runs again for the participant (the job again, then the queued job):
    # same idempotency key, so the CRM applies nothing the second time.
    rt.engine.advance([pid])
    sf_run_jobs(rt)
    rt.engine.advance([pid])
    assert retried == [False, True]  # the second run knew the first may have had its effect
    assert points(rt, ada) == 100
    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)["step:welcome:loyalty.points"] == 100
    steps = [h for h in rt.store.history(pid) if h["step"] == "welcome" and h["kind"] == "step"]
    assert [h["note"] for h in steps] == ["awarded 100 points"]

    rt.clock.advance(86400 + 1)
    sf_run_jobs(rt)
    rt.engine.advance([pid])
    assert points(rt, ada) == 150
    assert rt.store.participant(pid).status == "completed"
    assert rt.store.stats(flow.id)["loyalty.points"] == 150


def test_a_flow_missing_points_cannot_start(rt):
    doc = loyalty_doc()
    del doc["steps"][0]["settings"]["points"]
    # a draft may be saved with settings missing
    assert refused_start(rt, doc) == ["Step 1 'Award loyalty points': Points is required"]


def test_a_field_name_that_is_not_an_identifier_is_reported(rt):
    doc = loyalty_doc()
    doc["steps"][2]["settings"]["field"] = "loyalty points"
    assert refused_start(rt, doc) == [
        "Step 3 'Award loyalty points': Points field: 'loyalty points' is not a valid field name"
        " (use letters, digits and _)"
    ]


def test_an_unknown_crm_field_exits_the_participant(rt, sf_run_jobs):
    ada = person(rt, "Ada")
    doc = loyalty_doc()
    doc["steps"][0]["settings"]["field"] = "no_such_field"
    flow = start(rt, doc)
    joined(rt, ada)
    sf_run_jobs(rt)
    p = participant_of(rt, flow, ada)
    assert p.status == "exited" and p.reason.startswith("points not awarded: ")
    assert "no_such_field" in p.reason
