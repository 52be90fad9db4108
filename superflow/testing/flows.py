"""Flow documents and flow actions that tests of steps and triggers start from."""

from __future__ import annotations

from typing import Any

import pytest

from superflow import flows
from superflow import keys
from superflow.events import Event
from superflow.flow import Flow
from superflow.flow import FlowInvalid
from superflow.flow import FlowNotReady
from superflow.runtime import Runtime
from superflow.store import Participant
from superflow.testing.jobs import drain


def email_step(step_id: str, subject: str = "Hello {{person.first_name}}", **settings: Any) -> dict[str, Any]:
    """A ``send_email`` step with a sender, ``subject`` and a short HTML body."""
    return {
        "id": step_id,
        "type": "send_email",
        "settings": {
            "from_address": "news@superflow.test",
            "from_name": "Superflow News",
            "subject": subject,
            "html": "<p>Hi {{person.first_name}}, welcome from {{company.name}}.</p>",
            **settings,
        },
    }


def split_step(
    step_id: str, branches: list[dict[str, Any]], everyone_else: list[dict[str, Any]]
) -> dict[str, Any]:
    """A ``split`` step: a participant takes the first branch whose condition holds, else
    ``everyone_else``."""
    return {"id": step_id, "type": "split", "branches": branches, "everyone_else": everyone_else}


def email_action_branch(name: str, action: str, step: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A split's branch for those who did ``action`` (``email.opened``, ``link.clicked``) on
    the email that step ``step`` sent."""
    return {
        "name": name,
        "condition": {"type": "email_action", "settings": {"action": action, "step": step}},
        "steps": steps,
    }


def flow_doc(
    steps: list[dict[str, Any]], trigger: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A flow document; its trigger waits for the API event ``signed_up`` unless told."""
    return {
        "format_version": 1,
        "name": extra.pop("name", "Test flow"),
        "trigger": trigger or {"type": "api_event", "settings": {"name": "signed_up"}},
        "steps": steps,
        **extra,
    }


def signed_up(rt: Runtime, *person_ids: str, name: str = "signed_up") -> None:
    """What a sign-up form would send: an API event per person."""
    rt.emit([Event("api.event", pid, {"name": name}) for pid in person_ids])


def participant_of(rt: Runtime, flow: Flow, person_id: str) -> Participant | None:
    """The person's latest participation in the flow, if any."""
    pid = rt.redis.hget(keys.person(person_id), flow.id)
    return rt.store.participant(pid) if pid else None


def started(rt: Runtime, doc: dict[str, Any]) -> Flow:
    """Create a flow from ``doc`` and start it."""
    flow = flows.create(rt, doc)
    return flows.start(rt, flow.id)


def refused_save(rt: Runtime, doc: dict[str, Any]) -> list[dict[str, str]]:
    """Save ``doc``, which must be refused as invalid; the errors (``field`` and ``message``
    each) it was refused with."""
    with pytest.raises(FlowInvalid) as refused:
        flows.create(rt, doc)
    return refused.value.errors


def refused_start(rt: Runtime, doc: dict[str, Any]) -> list[str]:
    """Save ``doc`` as a draft (which must work: drafts may be incomplete) and start it,
    which must be refused; the problems starting was refused for, in the order given."""
    draft = flows.create(rt, doc)
    with pytest.raises(FlowNotReady) as refused:
        flows.start(rt, draft.id)
    return refused.value.problems


def admitted_by_each(
    rt: Runtime,
    people: dict[str, str],
    conditions: list[tuple[str, dict[str, Any]]],
    steps: list[dict[str, Any]],
) -> list[set[str]]:
    """Which of ``people`` (name → person id) each condition lets in, for table-driven tests
    of conditions: a started flow of ``steps`` per ``(condition type, settings)``, with that
    condition as its only filter; everyone signs up and the jobs run; the names of those in
    each flow, in the order of ``conditions``."""
    made = [
        started(
            rt,
            flow_doc(
                steps,
                name=f"Case {i}",
                filters={"op": "and", "conditions": [{"type": kind, "settings": settings}]},
            ),
        )
        for i, (kind, settings) in enumerate(conditions)
    ]
    signed_up(rt, *people.values())
    drain(rt)
    return [{name for name, pid in people.items() if participant_of(rt, flow, pid)} for flow in made]
