"""Link actions: what a click on a link of a flow's email does in the CRM, besides
counting (SuperOffice's "link actions").

A step's ``link_actions`` setting (the field :func:`link_actions_field` gives; the
email step has it) lists, per link — matched by its URL as written in the content —
actions, each a step type that says it may be one (``StepType.link_action``: add to
selection or project, update contact, create request or follow-up) with that step
type's own settings.  The first click of a participant on a link (the click
endpoint emits ``link.clicked`` once per message and link) queues one job that runs
the link's actions for the person through the step types' own ``execute_batch``,
under idempotency keys of their own (``link:<participant>:<step>:<url digest>:<n>``),
so a job run again after a crash creates nothing twice.

Before a flow starts every action's settings are checked with its step type's
schema, and the CRM things they name (settings with ``choices_from``) must exist;
the designer warns when an action does what a step of the flow also does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields as mf
from marshmallow import validate

from superflow import crm_lists
from superflow.components import StepContext
from superflow.flow import settings_of
from superflow.registry import UnknownComponent

if TYPE_CHECKING:
    from superflow.flow import Flow
    from superflow.registry import Registry
    from superflow.runtime import Runtime

log = logging.getLogger(__name__)

SETTING = "link_actions"
MAX_LINKS = 50
MAX_ACTIONS = 10


class ActionRef(Schema):
    type = mf.String(required=True, validate=validate.Length(min=1, max=100), metadata={"label": "Action"})
    settings = mf.Dict(keys=mf.String(), load_default=dict, metadata={"label": "Settings"})


class LinkActions(Schema):
    url = mf.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"label": "Link"})
    actions = mf.List(
        mf.Nested(ActionRef),
        load_default=list,
        validate=validate.Length(max=MAX_ACTIONS),
        metadata={"label": "Actions"},
    )


def link_actions_field() -> mf.Field:
    """The settings field a step type adds to have link actions (``link_actions``)."""
    return mf.List(
        mf.Nested(LinkActions),
        load_default=list,
        validate=validate.Length(max=MAX_LINKS),
        metadata={
            "label": "Links in this email",
            "help": "What a click on each link does in the CRM, once per person and link",
            "widget": "link_actions",
            "section": "When someone clicks a link",
        },
    )


def url_digest(url: str) -> str:
    return hashlib.blake2b(url.encode(), digest_size=8).hexdigest()


def actions_for(step: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The actions of the step's link ``url`` (none when the step has none)."""
    for entry in (step.get("settings") or {}).get(SETTING) or []:
        if isinstance(entry, dict) and entry.get("url") == url:
            return [a for a in entry.get("actions") or [] if isinstance(a, dict) and a.get("type")]
    return []


def has_actions(step: dict[str, Any] | None, url: str) -> bool:
    return step is not None and bool(actions_for(step, url))


def _each(flow: Flow) -> Iterable[tuple[str, str, int, dict[str, Any]]]:
    """``(step id, url, index, action)`` of every link action of the flow."""
    for step_id in sorted(flow.steps, key=flow.number.get):
        for entry in (flow.steps[step_id].get("settings") or {}).get(SETTING) or []:
            if not isinstance(entry, dict):
                continue
            for i, action in enumerate(entry.get("actions") or []):
                if isinstance(action, dict):
                    yield step_id, str(entry.get("url") or ""), i, action


def _label(registry: Registry, action: dict[str, Any]) -> str:
    try:
        return registry.step_type(action["type"]).label
    except UnknownComponent:
        return str(action.get("type"))


def problems(rt: Runtime, flow: Flow) -> list[tuple[str | None, str]]:
    """What keeps the flow from starting in its link actions: an action that is no
    link action, settings its step type's schema refuses, or a CRM thing (selection,
    project...) the CRM does not have."""
    from superflow.flow import setting_label

    found: list[tuple[str | None, str]] = []
    known: dict[str, set[str] | None] = {}
    for step_id in sorted(flow.steps, key=flow.number.get):
        settings = flow.steps[step_id].get("settings") or {}
        if settings.get("tracking") is False and any(
            isinstance(e, dict) and e.get("actions") for e in settings.get(SETTING) or []
        ):
            found.append(
                (
                    step_id,
                    f"{flow.step_label(step_id, rt.registry)}: link actions need opens and clicks tracked",
                )
            )
    for step_id, url, _, action in _each(flow):
        where = f"{flow.step_label(step_id, rt.registry)}, link {url}"
        try:
            step_type = rt.registry.step_type(action["type"])
        except UnknownComponent:
            found.append((step_id, f"{where}: the action {action['type']!r} is not installed"))
            continue
        if not step_type.link_action:
            found.append((step_id, f"{where}: '{step_type.label}' cannot be done by a click"))
            continue
        settings = action.get("settings") or {}
        try:
            settings_of(step_type, settings)
        except ValidationError as exc:
            for message in _flat(exc.messages):
                found.append((step_id, f"{where}: {step_type.label}: {message}"))
            continue
        found += [(step_id, f"{where}: {step_type.label}: {m}") for m in step_type.readiness(settings, flow)]
        for name, declared in (step_type.settings_schema or Schema)().fields.items():
            source, value = declared.metadata.get("choices_from"), settings.get(name)
            if not source or not isinstance(value, str) or not value:
                continue
            if source not in known:
                try:
                    known[source] = {c["value"] for c in crm_lists.SOURCES[source](rt)}
                except Exception:  # not a CRM list, or a CRM that cannot list it: the run will say
                    known[source] = None
            if known[source] is not None and value not in known[source]:
                label = setting_label(step_type, name)
                found.append(
                    (step_id, f"{where}: {step_type.label}: the CRM has no {label.lower()} {value!r}")
                )
    return found


def _flat(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [m for k, v in messages.items() for m in _flat(v, f"{path}.{k}" if path else str(k))]
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path}: {m}" if path else m for m in messages]
    return [f"{path}: {messages}"]


def _same(registry: Registry, a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.get("type") != b.get("type"):
        return False
    try:
        step_type = registry.step_type(a["type"])
        left, right = (
            settings_of(step_type, a.get("settings") or {}),
            settings_of(step_type, b.get("settings") or {}),
        )
    except (UnknownComponent, ValidationError):
        return False
    return json.dumps(left, sort_keys=True, default=str) == json.dumps(right, sort_keys=True, default=str)


def duplicates(
    flow: Flow, registry: Registry, form_actions: Iterable[tuple[str, dict[str, Any]]] = ()
) -> list[tuple[str | None, str]]:
    """Warnings for link actions (and ``form_actions``: ``(form's words, action)``)
    that do what a step of the flow also does: the person would get it twice, or the
    step would find it done."""
    steps = [(sid, flow.steps[sid]) for sid in sorted(flow.steps, key=flow.number.get)]
    found: list[tuple[str | None, str]] = []
    for step_id, url, _, action in _each(flow):
        for other_id, other in steps:
            if _same(registry, action, other):
                found.append(
                    (
                        step_id,
                        f"{flow.step_label(step_id, registry)}: a click on {url} does"
                        f" '{_label(registry, action)}', as {flow.step_label(other_id, registry)} also does",
                    )
                )
    for words, action in form_actions:
        for other_id, other in steps:
            if _same(registry, action, other):
                found.append(
                    (
                        other_id,
                        f"{flow.step_label(other_id, registry)}: {words} already does"
                        f" '{_label(registry, action)}' when the form is sent",
                    )
                )
    return found


def run(rt: Runtime, flow: Flow, step_id: str, participant_id: str, person_id: str, url: str) -> None:
    """What the job a first click queues does: the link's actions for the person."""
    flow_id = flow.id
    step = flow.steps.get(step_id)
    actions = actions_for(step, url) if step else []
    participant = rt.store.participant(participant_id)
    if not actions or participant is None:
        return
    person = rt.crm.get_person(person_id)
    if person is None:
        log.info("link actions of flow %s: person %s is no longer in the CRM", flow_id, person_id)
        return
    for i, action in enumerate(actions):
        try:
            step_type = rt.registry.step_type(action["type"])
        except UnknownComponent:
            log.warning("link actions of flow %s: %r is not installed", flow_id, action["type"])
            continue
        if not step_type.link_action:
            continue
        key = f"link:{participant_id}:{step_id}:{url_digest(url)}:{i}"
        try:
            settings = settings_of(step_type, action.get("settings") or {})
        except ValidationError as exc:
            log.warning("link action of flow %s, %s: settings refused: %s", flow_id, url, exc.messages)
            continue
        ctx = StepContext(
            participant=participant,
            flow=flow,
            step={"id": f"{step_id}:link", "type": action["type"], "settings": action.get("settings") or {}},
            settings=settings,
            person=person,
            now=rt.clock.now(),
            idempotency_key=key,
            retried=not rt.store.claim(key),
            services=rt,
            claim=rt.store.claim,
            release=rt.store.release,
            evaluate=lambda ref: False,
        )
        [result] = step_type.execute_batch([ctx])
        if result.action == "retry":
            raise RuntimeError(
                f"link action {action['type']} of flow {flow_id} to be tried again: {result.reason}"
            )
        log.info("link action of flow %s, %s for person %s: %s", flow_id, url, person_id, result.outcome)
