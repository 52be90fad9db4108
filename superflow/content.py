"""A flow's content: what each of its steps would send to a chosen person.

The admin's "Flow content" tab shows every email and SMS of a flow rendered with a
demo person's data, and sends a test of any of them.  The core knows no step type
here either: it builds the person's merge scope — the same one the engine gives a
step (:meth:`superflow.components.StepContext.merge_scope`) — and asks each step type
for its :meth:`~superflow.components.StepType.preview` or
:meth:`~superflow.components.StepType.send_test`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import ValidationError

from superflow import merge
from superflow.channels import PermanentFailure
from superflow.components import StepType
from superflow.flow import setting_label
from superflow.flow import settings_of
from superflow.registry import UnknownComponent

if TYPE_CHECKING:
    from superflow.flow import Flow
    from superflow.runtime import Runtime


class UnknownPerson(LookupError, ValueError):
    """No person with that id in the CRM; the message names the id.  Both a
    ``LookupError`` and a ``ValueError``, so either ``except`` shows it."""


class UnknownStep(LookupError, ValueError):
    """No step with that id in the flow; the message names the id."""


class PreviewEvent(dict):
    """The ``event`` of a preview: no event enrolled the person, so a tag such as
    ``{{ event.plan }}`` shows as ``[event.plan]`` rather than failing."""

    def __missing__(self, key: str) -> str:
        return f"[event.{key}]"


def person_scope(
    rt: Runtime, person_id: str, flow: Flow | None = None, event: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What merge tags see for a person outside any participation: the person, their
    company and our contact, and the flow — built as the engine builds it for a
    participant — with ``event`` (default: placeholders, see :class:`PreviewEvent`).

    Raises :class:`UnknownPerson` when the CRM has no such person."""
    person = rt.crm.get_person(str(person_id))
    if person is None:
        raise UnknownPerson(f"there is no person {person_id!r} in the CRM")
    contact_id = (person.get("company") or {}).get("our_contact")
    scope = merge.scope(
        person,
        flow={"id": flow.id, "name": flow.name} if flow is not None else None,
        event=None,
        our_contact=rt.associate(contact_id) if contact_id else None,
        names=rt.merge_names(),
    )
    scope["event"] = PreviewEvent(event or {})
    return scope


def settings_problems(messages: Any, prefix: str = "", component: Any = None) -> list[str]:
    """marshmallow's error messages as lines naming the field by the label
    ``component``'s schema gives it ("Subject is required"; without a component, by
    its key)."""
    if isinstance(messages, dict):
        found = []
        for key, value in messages.items():
            name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            found += settings_problems(value, name, component)
        return found
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        label = setting_label(component, prefix) if component is not None and prefix else prefix
        return [
            f"{label} is required" if m == "Missing data for required field." else f"{label}: {m}"
            for m in messages
        ]
    if isinstance(messages, list):
        return [line for m in messages for line in settings_problems(m, prefix, component)]
    return [f"{prefix}: {messages}"]


def can_send_test(step_type: Any) -> bool:
    """Whether the step type implements :meth:`StepType.send_test`."""
    return getattr(type(step_type), "send_test", StepType.send_test) is not StepType.send_test


def flow_content(rt: Runtime, flow: Flow, person_id: str) -> list[dict[str, Any]]:
    """What each step of ``flow`` (split branches included, in step-number order) would
    send to the person, for the steps that send something.  Each item:

    - ``step_id``, ``number`` (as in ``Step 3``), ``name`` (the step's own name, may
      be empty), ``label`` (``"Step 3 'Welcome'"``), ``type`` and ``type_label``;
    - ``content``: the step type's :class:`~superflow.components.Content` list;
    - ``problems``: what kept the step from being previewed (settings still missing,
      a step type that is not installed, a preview that failed);
    - ``can_send_test``: whether the step type can send a test.

    Raises :class:`UnknownPerson` for a person the CRM does not have."""
    scope = person_scope(rt, person_id, flow, _sample(rt, flow))
    items = []
    for step_id in sorted(flow.steps, key=lambda s: flow.number[s]):
        step = flow.steps[step_id]
        item: dict[str, Any] = {
            "step_id": step_id,
            "number": flow.number[step_id],
            "name": step.get("name") or "",
            "label": flow.step_label(step_id, rt.registry),
            "type": step["type"],
            "type_label": step["type"],
            "content": [],
            "problems": [],
            "can_send_test": False,
        }
        try:
            step_type = rt.registry.step_type(step["type"])
        except UnknownComponent as exc:
            items.append({**item, "problems": [str(exc)]})
            continue
        item["type_label"] = step_type.label or step_type.name
        if type(step_type).preview is StepType.preview:
            continue
        item["can_send_test"] = can_send_test(step_type)
        try:
            settings = settings_of(step_type, step["settings"])
        except ValidationError as exc:
            item["problems"] = settings_problems(exc.messages, component=step_type)
            items.append(item)
            continue
        try:
            item["content"] = list(step_type.preview(settings, scope, rt))
        except Exception as exc:  # a plugin's bug must not take the whole tab down
            item["problems"] = [f"the preview failed: {type(exc).__name__}: {exc}"]
        if item["content"] or item["problems"]:
            items.append(item)
    return items


def send_test(rt: Runtime, flow: Flow, step_id: str, person_id: str, to: str) -> str:
    """Send a test of step ``step_id``'s message, rendered for the person, to ``to``
    now (see :meth:`StepType.send_test`); return the step type's confirmation.

    Raises ``ValueError`` (:class:`UnknownStep`, :class:`UnknownPerson`, settings that
    are not complete, a bad address or number — each message says which),
    ``NotImplementedError`` for a step type that cannot send tests, and
    :class:`superflow.channels.ChannelError` when the transport fails."""
    step = flow.steps.get(step_id)
    if step is None:
        raise UnknownStep(f"there is no step {step_id!r} in flow {flow.name!r}")
    where = flow.step_label(step_id, rt.registry)
    try:
        step_type = rt.registry.step_type(step["type"])
    except UnknownComponent as exc:
        raise ValueError(f"{where}: {exc}") from None
    if not can_send_test(step_type):
        raise NotImplementedError(f"{where}: {step_type.label or step_type.name} steps cannot send a test")
    try:
        settings = settings_of(step_type, step["settings"])
    except ValidationError as exc:
        missing = "; ".join(settings_problems(exc.messages, component=step_type))
        raise ValueError(f"{where} cannot be sent yet: {missing}") from None
    if not to or not to.strip():
        raise ValueError("say where the test should go: an email address or a mobile number")
    scope = person_scope(rt, person_id, flow, _sample(rt, flow))
    return step_type.send_test(settings, scope, rt, to.strip())


def _sample(rt: Runtime, flow: Flow) -> dict[str, Any]:
    """The flow's sample event (:mod:`superflow.samples`): what ``event`` shows here."""
    from superflow import samples

    return samples.sample_event(rt.redis, rt.registry, flow.doc.get("trigger"), flow.id)


def deliver_test(transport: Any, message: Any, scope: dict[str, Any]) -> str:
    """Hand one test message (an :class:`~superflow.channels.EmailMessage` or
    :class:`~superflow.channels.SmsMessage`) to a transport or provider now, under an
    idempotency key of its own (``test:<flow id>:<random>``): a test is never taken
    for "already sent", never makes a real send look sent, and is in no report.
    Returns the message id; raises ``ValueError`` when the other side refused it
    for good, and lets :class:`~superflow.channels.ChannelError` through."""
    flow_id = (scope.get("flow") or {}).get("id") or "flow"
    [result] = transport.send_many([(message, f"test:{flow_id}:{uuid.uuid4().hex}")])
    if isinstance(result, PermanentFailure):
        raise ValueError(f"the test to {message.to} was refused: {result.reason}")
    return str(result or "")
