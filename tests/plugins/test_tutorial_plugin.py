"""The first plugin of docs/plugins/tutorial.md, examples/plugins/superflow_tag: the page
shows the module as it is, and it tags a person end to end on a real Redis."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

from superflow import Event
from superflow import flows
from superflow.flow import FlowNotReady

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugins" / "superflow_tag"
TUTORIAL = ROOT / "docs" / "plugins" / "tutorial.md"


@pytest.fixture
def superflow_tag(monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return importlib.import_module("superflow_tag")


def test_the_tutorial_shows_the_module_as_it_is():
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), re.S)
    assert (EXAMPLE / "superflow_tag.py").read_text(encoding="utf-8") in blocks


def test_the_step_tags_a_person_once(sf_plugin, sf_run_jobs, superflow_tag):
    rt = sf_plugin(superflow_tag)
    rt.crm.define_field("tags", "Tags", "text")
    person = rt.crm.create_person(first_name="Ada", tags="customer")["id"]
    doc = {
        "name": "Webinar",
        "trigger": {"type": "api_event", "settings": {"name": "registered"}},
        "steps": [
            {"id": "t", "type": "tag_person", "settings": {"tag": "webinar"}},
            {"id": "again", "type": "tag_person", "settings": {"tag": "webinar"}},
        ],
    }
    flow = flows.start(rt, flows.create(rt, doc).id)

    rt.emit([Event("api.event", person, {"name": "registered"})])
    sf_run_jobs(rt)

    assert rt.crm.get_person(person)["fields"]["tags"] == "customer, webinar"
    assert rt.store.stats(flow.id)["step:t:tag.added"] == 1
    assert "step:again:tag.added" not in rt.store.stats(flow.id)


def test_a_flow_with_no_tag_cannot_start(sf_plugin, superflow_tag):
    rt = sf_plugin(superflow_tag)
    doc = {
        "name": "Untagged",
        "trigger": {"type": "api_event", "settings": {"name": "registered"}},
        "steps": [{"id": "t", "type": "tag_person", "settings": {}}],
    }
    with pytest.raises(FlowNotReady) as refused:
        flows.start(rt, flows.create(rt, doc).id)
    assert refused.value.problems == ["Step 1 'Tag the person': Tag is required"]
