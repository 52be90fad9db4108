"""The plugin manager: one path for every plugin, clear errors when they clash."""

from __future__ import annotations

import sys
import types

import pytest

from superflow import hookimpl
from superflow.components import StepResult
from superflow.components import StepType
from superflow.registry import DEFAULT_PLUGINS
from superflow.registry import PluginError
from superflow.registry import load_registry


class Shout(StepType):
    name = "shout"
    label = "Shout"
    category = "Test"

    def execute(self, ctx):
        return StepResult.advance("shouted")


def plugin_module(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def test_builtins_register_through_the_same_hooks():
    registry = load_registry()
    assert registry.owners[("step_types", "send_email")] == "superflow.plugins.email"
    assert registry.owners[("step_types", "wait")] == "superflow.plugins.flow_control"
    assert registry.owners[("crm_backends", "local")] == "superflow.plugins.local_crm"
    names = {row["name"] for row in registry.plugins()}
    assert set(DEFAULT_PLUGINS) <= names


def test_two_plugins_with_one_name_fail_at_start_naming_both():
    first = plugin_module("acme_one", superflow_register_step_types=lambda register: register(Shout()))
    second = plugin_module("acme_two", superflow_register_step_types=lambda register: register(Shout()))
    with pytest.raises(
        PluginError, match="step type 'shout' is registered by two plugins: acme_one and acme_two"
    ):
        load_registry(extra=[first, second])


def test_a_misspelled_hook_fails_loudly():
    typo = plugin_module("acme_typo", superflow_register_step_typez=lambda register: None)
    with pytest.raises(Exception, match="superflow_register_step_typez"):
        load_registry(extra=[typo])


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(monkeypatch):
    from importlib import metadata

    class BrokenEntryPoint:
        name = "acme_broken"

        def load(self):
            raise ImportError("No module named 'acme_missing_dependency'")

    real = metadata.entry_points

    def fake_entry_points(**kwargs):
        found = list(real(**kwargs))
        return [*found, BrokenEntryPoint()] if kwargs.get("group") == "superflow" else found

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    registry = load_registry()
    broken = [row for row in registry.plugins() if row["broken"]]
    assert broken == [
        {
            "name": "acme_broken",
            "hooks": [],
            "registered": {},
            "broken": "ImportError: No module named 'acme_missing_dependency'",
        }
    ]
    assert "send_email" in registry.all("step_types")


def test_superflow_plugins_narrows_what_loads():
    registry = load_registry(only=["superflow.plugins.flow_control"])
    assert sorted(registry.all("step_types")) == ["split", "wait", "wait_for_action"]
    assert registry.all("crm_backends") == {}


def test_a_throwaway_plugin_step_runs_in_a_flow(sf_plugin, sf_run_jobs):
    from superflow.events import Event
    from superflow.testing import flow_doc
    from superflow.testing import started

    module = plugin_module("acme_shout", superflow_register_step_types=lambda register: register(Shout()))
    rt = sf_plugin(module)
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    flow = started(rt, flow_doc([{"id": "s", "type": "shout", "settings": {}}]))
    rt.emit([Event("api.event", person["id"], {"name": "signed_up"})])
    sf_run_jobs(rt)
    history = rt.store.history(f"{flow.id}.1")
    assert [h["note"] for h in history if h["kind"] == "step"] == ["shouted"]
    assert rt.store.stats(flow.id)["completed"] == 1
    assert "acme_shout" not in sys.modules


def test_plugins_add_routes_and_commands(sf_plugin):

    import click
    import requests
    from click.testing import CliRunner
    from flask import Blueprint

    from superflow.testing import LiveServer
    from superflow.webapp import create_app

    bp = Blueprint("acme_hooks", __name__, url_prefix="/hooks/acme")
    bp.add_url_rule("/", "ping", lambda: {"pong": True})

    def commands(cli):
        @cli.command()
        def acme():
            click.echo("acme ready")

    module = plugin_module(
        "acme_web",
        superflow_register_routes=lambda register: register(bp),
        superflow_register_commands=commands,
    )
    rt = sf_plugin(module)
    with LiveServer(create_app(runtime=rt)) as url:
        assert requests.get(f"{url}/hooks/acme/", timeout=5).json() == {"pong": True}

    group = click.Group("superflow")
    rt.registry.hook.superflow_register_commands(cli=group)
    assert CliRunner().invoke(group, ["acme"]).output == "acme ready\n"


def test_a_periodic_task_runs_once_per_period(sf_plugin, sf_run_jobs):
    from superflow.components import PeriodicTask

    class CountRounds(PeriodicTask):
        name = "count_rounds"
        label = "Count rounds"
        every_seconds = 300

        def run(self, services):
            services.redis.incr("test:rounds")
            return "counted"

    rt = sf_plugin(
        plugin_module(
            "acme_periodic", superflow_register_periodic_tasks=lambda register: register(CountRounds())
        )
    )
    sf_run_jobs(rt)
    sf_run_jobs(rt)
    assert rt.redis.get("test:rounds") == "1"
    rt.clock.advance(301)
    sf_run_jobs(rt)
    assert rt.redis.get("test:rounds") == "2"
