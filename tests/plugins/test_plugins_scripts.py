"""The "run script" step: registered scripts, scripts the CRM backend runs itself, and
fire-and-forget failures that never stop the flow."""

from __future__ import annotations

from superflow import hookimpl
from superflow.components import Script
from superflow.events import Event
from superflow.plugins.local_crm.backend import LocalCrm
from superflow.testing import crash_after_effects
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 3, "unit": "days"}}


def script_step(name, step_id="run", **arguments):
    return {"id": step_id, "type": "run_script", "settings": {"script": name, "arguments": arguments}}


def step_notes(rt, participant):
    return {h["step"]: h["note"] for h in rt.store.history(participant.id) if h["kind"] == "step"}


class ShopIsDown(Script):
    name = "notify_shop"
    label = "Tell the shop"

    def run(self, person, participant, services, arguments):
        raise ConnectionError(f"shop at {arguments['url']} did not answer")


class Greeting(Script):
    name = "greeting"
    label = "Say hello"

    def run(self, person, participant, services, arguments):
        return f"hello {person['first_name']}, {arguments.get('from', 'nobody')} says hi"


class ShopPlugin:
    __name__ = "shop_plugin"

    @hookimpl
    def superflow_register_scripts(self, register):
        register(ShopIsDown())
        register(Greeting())


class ScriptingCrm(LocalCrm):
    """A CRM that runs scripts of its own (as SuperOffice runs CRMScript)."""

    name = "scripting"

    def run_script(self, name, person_id, arguments, idempotency_key=None):
        if name != "crm_tag":
            raise KeyError(f"the CRM has no script {name!r}")
        self.update_person(person_id, {"tag": arguments["tag"]}, idempotency_key=idempotency_key)
        return f"tagged {arguments['tag']}"

    def list_scripts(self):
        return [{"name": "crm_tag"}]


class ScriptingCrmPlugin:
    __name__ = "scripting_crm_plugin"

    @hookimpl
    def superflow_register_crm_backends(self, register):
        register(ScriptingCrm)


def test_recalculate_score_from_sales(sf_runtime, sf_run_jobs, crm):
    rt = sf_runtime
    crm.define_field("score", "Score", "number")
    crm.define_field("revenue", "Revenue", "number")
    ada = crm.create_person(first_name="Ada", score=3)["id"]
    crm.create_sale(ada, "Engine", 1000)
    crm.create_sale(ada, "Loom", 250.5, stage="won")
    steps = [script_step("recalculate_score", "score"), script_step("total_sales", "total", field="revenue")]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, ada)
    sf_run_jobs()

    assert crm.get_person(ada)["fields"] == {"score": 20, "revenue": 1250.5}
    p = participant_of(rt, flow, ada)
    assert p.status == "completed"
    assert step_notes(rt, p) == {
        "score": "script 'recalculate_score': score set to 20 (2 sales)",
        "total": "script 'total_sales': revenue set to 1250.5 (2 sales)",
    }
    assert rt.store.stats(flow.id)["scripts.ran"] == 2


def test_a_failing_script_is_noted_and_the_flow_goes_on(sf_plugin, sf_run_jobs):
    rt = sf_plugin(ShopPlugin())
    ada = rt.crm.create_person(first_name="Ada")["id"]
    steps = [
        script_step("notify_shop", "shop", url="https://shop.example"),
        script_step("greeting", "hello", **{"from": "Kari"}),
        script_step("recalculate_score", "score"),  # no score field defined in this CRM
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, ada)
    sf_run_jobs(rt)

    p = participant_of(rt, flow, ada)
    assert p.status == "completed"
    assert step_notes(rt, p) == {
        "shop": "script 'notify_shop' failed: ConnectionError: shop at https://shop.example did not answer",
        "hello": "script 'greeting': hello Ada, Kari says hi",
        "score": "script 'recalculate_score': not written: the CRM has no number field 'score' (0 sales)",
    }
    stats = rt.store.stats(flow.id)
    assert (stats["scripts.failed"], stats["scripts.ran"]) == (1, 2)


def test_a_script_the_crm_backend_runs(sf_plugin, sf_run_jobs, monkeypatch):
    rt = sf_plugin(ScriptingCrmPlugin(), crm="scripting")
    rt.crm.define_field("tag", "Tag", "text")
    ada = rt.crm.create_person(first_name="Ada")["id"]
    steps = [script_step("crm_tag", tag="vip"), script_step("crm_gone", "gone")]
    with monkeypatch.context() as patch:
        # crm_gone passes readiness while the CRM lists it; then it is removed from the CRM.
        patch.setattr(ScriptingCrm, "list_scripts", lambda self: [{"name": "crm_tag"}, {"name": "crm_gone"}])
        flow = started(rt, flow_doc(steps))
    signed_up(rt, ada)
    sf_run_jobs(rt)

    assert rt.crm.get_person(ada)["fields"]["tag"] == "vip"
    p = participant_of(rt, flow, ada)
    assert p.status == "completed"
    assert step_notes(rt, p) == {
        "run": "script 'crm_tag': tagged vip",
        "gone": "script 'crm_gone' failed: KeyError: \"the CRM has no script 'crm_gone'\"",
    }


def test_a_script_that_is_gone_with_a_crm_that_cannot_run_scripts(sf_plugin, sf_run_jobs, monkeypatch):
    rt = sf_plugin(ShopPlugin())
    ada = rt.crm.create_person(first_name="Ada")["id"]
    flow = started(rt, flow_doc([script_step("greeting"), WAIT]))
    # The plugin that gave the script is uninstalled while the flow runs.
    monkeypatch.delitem(rt.registry.items["scripts"], "greeting")
    signed_up(rt, ada)
    sf_run_jobs(rt)

    p = participant_of(rt, flow, ada)
    assert p.step == "w"  # the flow went on
    assert step_notes(rt, p)["run"] == (
        "script 'greeting' not run: no installed script has that name, and the CRM backend 'local'"
        " cannot run scripts"
    )
    assert rt.store.stats(flow.id)["scripts.failed"] == 1


def test_running_the_step_again_after_a_crash_writes_once(sf_plugin, sf_run_jobs, monkeypatch):
    rt = sf_plugin(ScriptingCrmPlugin(), crm="scripting")
    rt.crm.define_field("tag", "Tag", "text")
    ada = rt.crm.create_person(first_name="Ada")["id"]
    sf_run_jobs(rt)
    flow = started(rt, flow_doc([script_step("crm_tag", tag="vip"), WAIT]))
    trigger = {"type": "field_changed", "settings": {"field": "tag"}}
    listener = started(rt, flow_doc([WAIT], trigger=trigger, name="Tag listener"))
    rt.engine.handle_events([Event("api.event", ada, {"name": "signed_up"})])
    pid = participant_of(rt, flow, ada).id

    crash_after_effects(rt, [pid])
    rt.engine.advance([pid])
    sf_run_jobs(rt)

    assert rt.store.participant(pid).step == "w"
    assert rt.store.stats(flow.id)["scripts.ran"] == 1
    # The CRM got the step's idempotency key: one change, one person.updated event.
    assert rt.store.stats(listener.id)["enrolled"] == 1


def test_settings_are_checked_with_the_field_named(sf_runtime):
    rt = sf_runtime
    invalid = refused_save(
        rt, flow_doc([{"id": "s", "type": "run_script", "settings": {"script": 3, "arguments": [1]}}])
    )
    assert {(e["field"], e["message"]) for e in invalid} == {
        ("steps[0].settings.script", "Not a valid string."),
        ("steps[0].settings.arguments", "Not a valid mapping type."),
    }
    first, second = refused_start(
        rt, flow_doc([{"id": "a", "type": "run_script", "settings": {}}, script_step("nope", "b")])
    )
    assert first == "Step 1 'Run script': Script is required"
    assert second.startswith("Step 2 'Run script': Script: there is no script 'nope' (installed: ")
    assert "recalculate_score" in second and "total_sales" in second


def test_components_describe_themselves(sf_runtime):
    step = sf_runtime.registry.step_type("run_script")
    assert step.describe({"script": "recalculate_score"}) == "Run script recalculate_score"
    assert step.category == "Advanced"
    for name, field in step.settings_schema().fields.items():
        assert field.metadata.get("label") and field.metadata.get("help"), name
