"""The plugin's own tests, on the fixtures superflow gives plugin authors
(``superflow.testing`` is a pytest plugin: no imports, no conftest needed)."""

from __future__ import annotations

import pytest
import superflow_loyalty

from superflow import flows
from superflow.events import Event


@pytest.fixture
def rt(sf_runtime, sf_plugin):
    """A runtime with this plugin: installed, the entry point already loaded it;
    otherwise register the module as a throw-away plugin."""
    if sf_runtime.registry.pm.has_plugin("superflow_loyalty"):
        return sf_runtime
    return sf_plugin(superflow_loyalty)


def test_award_points(rt, sf_run_jobs):
    rt.crm.define_field("loyalty_points", "Loyalty points", "number")
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com", loyalty_points=5)
    doc = {
        "name": "Loyalty",
        "trigger": {"type": "api_event", "settings": {"name": "joined"}},
        "steps": [{"id": "a", "type": "award_points", "settings": {"points": 10}}],
    }
    flow = flows.start(rt, flows.create(rt, doc).id)
    rt.emit([Event("api.event", person["id"], {"name": "joined"})])
    sf_run_jobs(rt)
    assert rt.crm.get_person(person["id"])["fields"]["loyalty_points"] == 15
    assert rt.store.stats(flow.id)["step:a:loyalty.points"] == 10
