"""Sample event data: what ``{{ event.… }}`` shows before a real event fills it in.

No event enrolled the person a marketer previews a step for, or sends a test to, so
the designer fills ``event`` with a sample: the last event that enrolled someone in
the flow (kept here, in ``sf:flow:<flow id>:last_event``), else the sample the
flow's trigger gives for its settings (:meth:`superflow.components.Trigger.sample_event`
— the API event trigger's is what the marketer typed as JSON in its panel).  The same
sample names the ``event.*`` entries of the merge-tag picker and tells the save and
start checks which ``event`` tags an event will have.

This module owns the ``sf:flow:<flow id>:last_event`` key.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import ValidationError

from superflow import keys
from superflow.registry import UnknownComponent

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from superflow.flow import Flow
    from superflow.registry import Registry
    from superflow.runtime import Runtime

#: A last event bigger than this (as JSON) is not kept: a sample, not an archive.
MAX_SAMPLE_BYTES = 16_000
#: How deep the picker looks into nested event data (``event.cart.total``).
PICKER_DEPTH = 3


def remember(redis: Redis | Pipeline, flow_id: str, data: dict[str, Any] | None) -> None:
    """Keep ``data`` (an event that enrolled someone in the flow) as its sample; empty
    data or data over :data:`MAX_SAMPLE_BYTES` leaves the kept one as it is.  The
    engine passes the enrolment's transaction, so that this costs no round trip."""
    if not data:
        return
    try:
        text = json.dumps(data, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return
    if len(text) <= MAX_SAMPLE_BYTES:
        redis.set(keys.last_event(flow_id), text)


def last_event(redis: Redis, flow_id: str | None) -> dict[str, Any] | None:
    """The data of the last event that enrolled someone in the flow, if any."""
    if not flow_id:
        return None
    text = redis.get(keys.last_event(str(flow_id)))
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def sample_event(
    redis: Redis, registry: Registry, trigger: dict[str, Any] | None, flow_id: str | None = None
) -> dict[str, Any]:
    """The event data previews and checks use for a flow with ``trigger`` (its
    ``{"type", "settings"}``): the last event received, else the trigger's sample."""
    received = last_event(redis, flow_id)
    if received is not None:
        return received
    return declared_sample(registry, trigger)


def declared_sample(registry: Registry, trigger: dict[str, Any] | None) -> dict[str, Any]:
    """The sample the trigger type gives for its settings (``{}`` without a trigger)."""
    if not isinstance(trigger, dict) or not trigger.get("type"):
        return {}
    try:
        component = registry.trigger(str(trigger["type"]))
    except UnknownComponent:
        return {}
    settings = trigger.get("settings") if isinstance(trigger.get("settings"), dict) else {}
    if component.settings_schema is not None:
        with contextlib.suppress(ValidationError):
            settings = component.settings_schema().load(settings, partial=True)
    try:
        sample = component.sample_event(settings)
    except Exception:  # a plugin's bug leaves the sample empty, not the designer broken
        return {}
    return sample if isinstance(sample, dict) else {}


def picker_entries(sample: dict[str, Any]) -> list[dict[str, str]]:
    """The ``event.*`` entries of the merge-tag picker for ``sample``: one per key
    (nested mappings as ``event.cart.total``); a list says to loop over it."""
    found: list[dict[str, str]] = []

    def walk(prefix: str, data: dict[str, Any], depth: int) -> None:
        for key, value in data.items():
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
                continue
            tag = f"{prefix}.{key}"
            label = " › ".join(part.replace("_", " ").capitalize() for part in tag.split(".")[1:])
            if isinstance(value, dict) and depth < PICKER_DEPTH:
                walk(tag, value, depth + 1)
                continue
            entry = {"tag": tag, "label": label, "group": "Event"}
            if isinstance(value, list):
                entry["label"] = f"{label} (a list: loop over it)"
                entry["loop"] = "1"
            found.append(entry)

    walk("event", sample, 1)
    return found


def content_problems(rt: Runtime, flow: Flow) -> list[tuple[str | None, str]]:
    """What keeps the flow's messages from being filled in, found with the sample
    event (and the first person of the CRM, as the designer's preview): an ``event``
    tag the sample lacks, and a step whose merge tags fail to render — e.g. a loop
    over a value that is not a list.  Each with the id of its step (``None``: the
    trigger, filters or criteria); starting is refused while there are any."""
    from superflow import merge
    from superflow.flow import merge_templates
    from superflow.flow import setting_label
    from superflow.flow import settings_of

    event = sample_event(rt.redis, rt.registry, flow.doc.get("trigger"), flow.id)
    names = rt.merge_names()
    scope = _sample_scope(rt, flow, event)
    found: list[tuple[str | None, str]] = []
    for step_id in sorted(flow.steps, key=flow.number.get):
        step = flow.steps[step_id]
        where = flow.step_label(step_id, rt.registry)
        try:
            step_type = rt.registry.step_type(step["type"])
            settings = settings_of(step_type, step.get("settings") or {})
        except (UnknownComponent, ValidationError):
            continue  # named by the readiness check already
        for name, template in merge_templates(step_type, settings):
            label = setting_label(step_type, name)
            checked = merge.check(template, names, event=event)
            unknown = [p for p in checked if p.startswith(merge.UNKNOWN_TAG)]
            found += [(step_id, f"{where}: {label}: {_explained(p)}") for p in unknown]
            if unknown or scope is None:
                continue
            try:
                merge.render(template, scope)
            except merge.MergeLimit:
                continue  # named by the readiness check already
            except merge.MergeError as exc:
                found.append((step_id, f"{where}: the preview fails: {label}: {exc}"))
        if scope is not None and not any(s == step_id for s, _ in found):
            try:
                list(step_type.preview(settings, scope, rt))
            except Exception as exc:  # a plugin's bug: the preview fails, and so would sends
                found.append((step_id, f"{where}: the preview fails: {type(exc).__name__}: {exc}"))
    return found


def _explained(problem: str) -> str:
    if "{{ event." not in problem:
        return problem
    return f"{problem}: the trigger's event has no such data (see the sample event in the trigger's panel)"


def _sample_scope(rt: Runtime, flow: Flow, event: dict[str, Any]) -> dict[str, Any] | None:
    """The merge scope of the first person in the CRM with the sample event; ``None``
    when the CRM has no person (or cannot list them)."""
    from superflow import content

    try:
        ids = rt.crm.person_ids(None, 1)
    except NotImplementedError:
        return None
    if not ids:
        return None
    try:
        scope = content.person_scope(rt, ids[0], flow)
    except content.UnknownPerson:
        return None
    return scope | {"event": dict(event)}
