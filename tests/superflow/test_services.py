"""The services a component is handed: the runtime is one, its plugin store keeps each
plugin's keys under ``sf:<namespace>:``, and ``enqueue`` runs a plugin's own job."""

from __future__ import annotations

import types

import pytest

from superflow import Event
from superflow import PluginStore

ran: list[tuple[str, object]] = []


def record_call(services, word, number):
    """A plugin's job, queued by name through ``Services.enqueue``."""
    ran.append((word, number))
    services.emit([Event("api.event", "1", {"name": word})])


def test_a_plugin_store_keeps_its_keys_under_its_namespace(sf_runtime):
    store = sf_runtime.plugin_store("acme")
    assert isinstance(store, PluginStore)
    assert store.key("since") == "sf:acme:since"
    assert store.key() == "sf:acme"

    assert store.set("since", "2026-12-01") is True
    assert sf_runtime.redis.get("sf:acme:since") == "2026-12-01"
    assert store.get("since") == "2026-12-01"
    assert store.delete("since", "never-set") == 1
    assert store.get("since") is None


def test_only_if_new_lets_the_first_caller_win(sf_runtime):
    store = sf_runtime.plugin_store("acme")
    assert store.set("event:7", "1", ttl=60, only_if_new=True) is True
    assert store.set("event:7", "2", ttl=60, only_if_new=True) is False
    assert store.get("event:7") == "1"
    assert 0 < sf_runtime.redis.ttl("sf:acme:event:7") <= 60


def test_a_hash_field_keeps_its_first_value(sf_runtime):
    store = sf_runtime.plugin_store("acme")
    assert store.hset_if_new("holders", "ada@example.com", "17", ttl=3600) == "17"
    assert store.hset_if_new("holders", "ada@example.com", "18") == "17"
    assert store.hget("holders", "ada@example.com") == "17"
    store.hset("holders", "ada@example.com", "18")
    assert store.hget("holders", "ada@example.com") == "18"
    assert sf_runtime.redis.ttl("sf:acme:holders") > 0


@pytest.mark.parametrize("namespace", ["", ":acme", "acme:", " acme"])
def test_a_namespace_is_a_plain_name(sf_runtime, namespace):
    with pytest.raises(ValueError, match="plain name"):
        sf_runtime.plugin_store(namespace)


def test_enqueue_runs_the_plugin_job_with_the_services_first(sf_runtime, sf_run_jobs):
    ran.clear()
    sf_runtime.enqueue(f"{__name__}.record_call", "hello", 3)
    sf_run_jobs(sf_runtime)
    assert ran == [("hello", 3)]
    assert sf_runtime.queue.count == 0


def test_components_are_handed_the_services_and_observers_a_read_only_view(sf_plugin, sf_run_jobs):
    import dataclasses

    from superflow import Filter
    from superflow import ParticipantView
    from superflow import Trigger
    from superflow import flows
    from superflow import hookimpl

    handed: list[object] = []
    views: list[ParticipantView] = []

    class Anyone(Trigger):
        name = "anyone"
        label = "Anyone"
        event_types = ("api.event",)

        def matches(self, event, settings, services):
            handed.append(services)
            return True

    class Everyone(Filter):
        name = "everyone"
        label = "Everyone"

        def matches(self, person, settings, participant, services):
            handed.append(services)
            return True

    plugin = types.ModuleType("handed_services")
    plugin.superflow_register_triggers = hookimpl(lambda register: register(Anyone()))
    plugin.superflow_register_filters = hookimpl(lambda register: register(Everyone()))
    plugin.superflow_participant_enrolled = hookimpl(lambda participant, flow: views.append(participant))
    rt = sf_plugin(plugin)
    person = rt.crm.create_person(first_name="Ada")["id"]
    doc = {
        "name": "Handed",
        "trigger": {"type": "anyone", "settings": {}},
        "filters": {"op": "and", "conditions": [{"type": "everyone", "settings": {}}]},
        "steps": [{"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}],
    }
    flow = flows.start(rt, flows.create(rt, doc).id)
    rt.emit([Event("api.event", person, {"name": "x"})])
    sf_run_jobs(rt)

    assert handed and all(services is rt for services in handed)
    (view,) = views
    assert isinstance(view, ParticipantView)
    assert (view.flow_id, view.person_id, view.step) == (flow.id, person, "w")
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.status = "exited"
