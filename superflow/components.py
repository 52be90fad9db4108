"""What plugins give: step types, triggers, filters and success criteria.

A plugin subclasses one of these, sets the class attributes and implements the
behaviour, then registers an instance through the matching hook.  The engine only
ever talks to these interfaces; it knows no particular step type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from marshmallow import Schema

from superflow import merge
from superflow.events import Event

if TYPE_CHECKING:
    from superflow.crm import CrmBackend
    from superflow.flow import Flow
    from superflow.participant_view import ParticipantView
    from superflow.services import Services
    from superflow.store import MessageLedger
    from superflow.store import Participant


class Component:
    """Shared by everything a flow is built from.

    ``settings_schema`` is a marshmallow ``Schema`` class.  Its fields' ``metadata``
    (``label``, ``help``, ``widget``) feed the settings forms; ``required=True`` fields
    may be left empty while a flow is a draft, and are reported by the readiness check.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    category: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Longer Markdown for the catalogue (``superflow plugins docs``): how to use it.
    guide: ClassVar[str] = ""
    settings_schema: ClassVar[type[Schema] | None] = None

    def merge_texts(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """Merge-tag templates made from settings that are not plain texts, as
        ``(setting name, template)`` (an email's design made into HTML), so that their
        tags are checked like a text's: unknown names stop the start, bad syntax the
        save.  ``settings`` may be a draft's, unchecked: return ``[]`` for what cannot
        be made yet."""
        return []

    def readiness(self, settings: dict[str, Any], flow: Flow) -> list[str]:
        """Problems that must be fixed before a flow using this can start, beyond
        what the settings schema already checks (e.g. a referenced step that does not
        exist).  Each message names the field."""
        return []

    def warnings(self, settings: dict[str, Any], flow: Flow) -> list[str]:
        """What may not work as meant though the flow can start (the designer shows
        them on save), e.g. waiting for a click on an email that has tracking off.
        ``settings`` may be incomplete while the flow is being built.  Each message
        names the field."""
        return []

    def describe(self, settings: dict[str, Any]) -> str:
        """The settings in words, for summaries ("Added to selection Newsletter")."""
        return self.label


@dataclass
class StepResult:
    """What a step type tells the engine to do next.

    Build one with the class methods; the engine honours them as documented in
    ``docs/plugins/advanced.md``:

    - ``advance``: go on to the next step (the default);
    - ``wait(until)``: park the participant until the timestamp, then go on;
    - ``wait_for_event(event_types, until)``: park until the step type's
      :meth:`StepType.event_matches` accepts an event of one of those types (then go
      on), or until ``until`` passes (then :meth:`StepType.on_timeout` decides);
    - ``branch(index)``: enter branch ``index`` of this step (``len(branches)`` is the
      "everyone else" branch);
    - ``goto(step_id)``: continue at another step of the flow;
    - ``retry(delay, reason)``: run this step again after ``delay`` seconds (a
      temporary failure such as a CRM that answered 503); with ``channel="email"``
      (or ``"sms"``) the channel is down as a whole: the participant waits until a
      probe finds it back (:mod:`superflow.outages`), without using up an attempt;
      with ``failed_on="email"`` it is one message's temporary failure on that
      channel: retried after ``delay`` unless the channel is down (or found down in
      the same round), and then it waits for the channel like the others;
    - ``exit(reason)``: the participant leaves the flow with that reason.

    ``outcome`` is a short line for the participant's history; ``sending`` describes a
    message sent (``{"channel": "email", "status": "sent", "to": ...}``) and becomes
    the participant's "last sending"; ``counters`` are added to the step's counters
    for reports (``{"email.sent": 1}``).
    """

    action: str = "advance"
    outcome: str = ""
    until: float | None = None
    event_types: tuple[str, ...] = ()
    branch: int | None = None
    goto: str | None = None
    reason: str = ""
    sending: dict[str, Any] | None = None
    counters: dict[str, int] = field(default_factory=dict)
    channel: str = ""
    failed_on: str = ""

    @classmethod
    def advance(cls, outcome: str = "", **extra: Any) -> StepResult:
        return cls("advance", outcome, **extra)

    @classmethod
    def wait(cls, until: float, outcome: str = "", **extra: Any) -> StepResult:
        return cls("wait", outcome, until=until, **extra)

    @classmethod
    def wait_for_event(
        cls, event_types: tuple[str, ...] | list[str], until: float, outcome: str = "", **extra: Any
    ) -> StepResult:
        return cls("wait_for_event", outcome, until=until, event_types=tuple(event_types), **extra)

    @classmethod
    def branch_to(cls, index: int, outcome: str = "", **extra: Any) -> StepResult:
        return cls("branch", outcome, branch=index, **extra)

    @classmethod
    def goto_step(cls, step_id: str, outcome: str = "", **extra: Any) -> StepResult:
        return cls("goto", outcome, goto=step_id, **extra)

    @classmethod
    def retry(cls, delay: float, reason: str, **extra: Any) -> StepResult:
        return cls("retry", reason, until=delay, reason=reason, **extra)

    @classmethod
    def exit(cls, reason: str, **extra: Any) -> StepResult:
        return cls("exit", reason, reason=reason, **extra)


@dataclass
class StepContext:
    """Everything a step type may use while it runs for one participant.

    ``idempotency_key`` is the same every time this participant runs this step, also
    when a job is run again after a crash: pass it to every outside effect.
    ``retried`` is true when an earlier run of this step for this participant
    started and did not finish, so the effect may or may not have happened; a
    channel that cannot look the key up should not repeat the effect then:
    ``claim(key)`` is true only for the first caller of a key, and ``release(key)``
    gives a claim back when the effect certainly did not happen (see
    :func:`superflow.channels.deliver`, which does both).
    """

    participant: Participant
    flow: Flow
    step: dict[str, Any]
    settings: dict[str, Any]
    person: dict[str, Any] | None
    now: float
    idempotency_key: str
    retried: bool
    services: Services
    claim: Callable[[str], bool]
    release: Callable[[str], None]
    evaluate: Callable[[dict[str, Any] | None], bool]
    #: The message ledger :func:`superflow.channels.deliver` keeps per message.
    messages: MessageLedger | None = None

    @property
    def crm(self) -> CrmBackend:
        return self.services.crm

    def merge_scope(self) -> dict[str, Any]:
        """What merge tags see for this participant: the person, their company and
        our contact, the flow, and the data of the event that enrolled them."""
        person = self.person or {}
        contact_id = (person.get("company") or {}).get("our_contact")
        return merge.scope(
            person,
            flow={"id": self.flow.id, "name": self.flow.name},
            event=self.participant.event,
            our_contact=self.services.associate(contact_id) if contact_id else None,
            names=self.services.merge_names(),
        )


@dataclass
class Content:
    """What a step would send to one person: the "Flow content" tab shows it, rendered
    with a chosen person's data (:meth:`StepType.preview`).

    ``channel`` is ``"email"`` or ``"sms"`` (or a plugin's channel name); ``to`` the
    address or number it would go to (empty when the person has none); ``sender`` the
    from address or SMS sender; ``html`` and ``text`` the body (an SMS has only
    ``text``).  ``details`` holds what else a reader should know, as short values
    (``{"segments": 2, "encoding": "GSM-7"}``, ``{"attachments": ["price-list.pdf"]}``).
    ``problems`` says in words what is wrong — an unknown merge tag, a missing
    attachment, a person who would not get it — since a preview never raises for
    bad content.
    """

    channel: str
    to: str = ""
    sender: str = ""
    subject: str = ""
    html: str = ""
    text: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def render(self, name: str, template: str, scope: dict[str, Any], *, html: bool = False) -> str:
        """Fill ``template`` (the setting ``name``) like :func:`superflow.merge.render`,
        but note a merge-tag problem in ``problems`` (naming the setting and the tag)
        and give the template unfilled instead of raising."""
        try:
            return merge.render(template, scope, html=html)
        except merge.MergeError as exc:
            names = {
                root: frozenset(values)
                for root, values in scope.items()
                if root != "event" and isinstance(values, dict)
            }
            found = merge.check(template, names) or [str(exc)]
            self.problems.extend(f"{name}: {problem}" for problem in found)
            return template


class StepType(Component):
    """A step of a flow.

    ``sends`` names the channel (``"email"``, ``"sms"``) of steps that send
    something to the person: those respect the flow's send window.  ``exits_on``
    names event types that end the person's participation in any flow that has a
    step of this type (an unsubscribe ends the flows that email them).  ``branching``
    step types (the split) carry ``branches`` in the flow document.  A
    ``link_action`` step type may also be what a click on a link of an email does
    (:mod:`superflow.link_actions`): it then runs for the person who clicked, once
    per link, outside the flow's order of steps.
    """

    sends: ClassVar[str | None] = None
    branching: ClassVar[bool] = False
    exits_on: ClassVar[tuple[str, ...]] = ()
    link_action: ClassVar[bool] = False

    def execute(self, ctx: StepContext) -> StepResult:
        raise NotImplementedError

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        """Run the step for many participants at once.  Override when the work can
        be batched (one CRM call or one transaction for all); the default calls
        :meth:`execute` for each."""
        return [self.execute(ctx) for ctx in ctxs]

    def event_matches(self, event: Event, settings: dict[str, Any], participant: ParticipantView) -> bool:
        """For steps that return ``wait_for_event``: does this event end the wait?
        ``participant`` is a read-only view of the participation."""
        return False

    def on_timeout(self, ctx: StepContext) -> StepResult:
        """For steps that return ``wait_for_event``: what happens when nothing came."""
        return StepResult.advance("timed out")

    def preview(self, settings: dict[str, Any], scope: dict[str, Any], services: Services) -> list[Content]:
        """What this step would send to the person whose merge ``scope`` is given
        (:func:`superflow.content.person_scope`): one :class:`Content` per message,
        rendered as :meth:`execute` would render it.  Never raise for bad content:
        report it in ``Content.problems``.  The default: nothing (steps that send
        nothing)."""
        return []

    def send_test(self, settings: dict[str, Any], scope: dict[str, Any], services: Services, to: str) -> str:
        """Send one test of this step's message, rendered for the person of ``scope``,
        to the address or number ``to`` now, through the configured transport or
        provider and outside any flow: the subject starts with "[Test] ", links are not
        tracked, nothing is counted in the flow's reports and the at-most-once ledger of
        real sends is not used.  Return a short confirmation; raise ``ValueError``
        naming the problem for a bad ``to`` (or content that cannot be sent), and let
        :class:`superflow.channels.ChannelError` through when the transport fails."""
        raise NotImplementedError(f"{self.label or self.name} steps cannot send a test")


class Trigger(Component):
    """WHEN a person is suggested as a participant.

    ``event_types`` are the event types the trigger listens to; the engine indexes
    running flows by them, so a trigger is only asked about events it can match.
    Triggers that fire on time rather than on events (a date reached) set
    ``scans`` and implement :meth:`scan`, which the engine calls periodically.

    Every method that runs in the engine is handed the :class:`superflow.Services`
    (CRM, clock, config, the plugin store) as ``services``, the same for filters,
    success criteria, scripts and periodic tasks.
    """

    event_types: ClassVar[tuple[str, ...]] = ()
    allows_manual_enrolment: ClassVar[bool] = True
    scans: ClassVar[bool] = False

    def matches(self, event: Event, settings: dict[str, Any], services: Services) -> bool:
        raise NotImplementedError

    def sample_event(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The data an event of this trigger carries, with made-up but real-looking
        values: what ``{{ event.<key> }}`` shows in previews and test sends before a
        real event enrolled anyone, and the ``event.*`` entries of the merge-tag
        picker.  ``settings`` may be incomplete (a flow being built).  ``{}`` (the
        default): the event carries nothing worth a merge tag."""
        return {}

    def scan(self, settings: dict[str, Any], services: Services, start: float, end: float) -> list[Event]:
        """For ``scans`` triggers: an event for every person whose moment falls in
        ``(start, end]``.  Each event's ``data["occasion"]`` names the occasion (e.g.
        ``"birth_date:2026-12-10"``); the engine enrols a person at most once per
        flow and occasion, however often the window is scanned.  Ask the CRM for the
        persons due only — never walk every person."""
        return []


class Filter(Component):
    """WHO may enter: a condition on the person's CRM data.

    Filters with ``needs_participant`` also look at the participation (what the
    person did in this flow) and are offered only as split conditions.
    """

    needs_participant: ClassVar[bool] = False

    def matches(
        self,
        person: dict[str, Any],
        settings: dict[str, Any],
        participant: ParticipantView | None,
        services: Services,
    ) -> bool:
        """Does the person pass?  ``participant`` is a read-only view of the
        participation (``None`` when deciding whether the person may enter)."""
        raise NotImplementedError


class SuccessCriterion(Component):
    """When the flow has done its job for a person.

    ``matches`` is asked about events of ``event_types`` for the person's active
    participations; ``holds`` is asked about the person's CRM data before every step
    (return False when the criterion is only about events).
    """

    event_types: ClassVar[tuple[str, ...]] = ()

    def matches(
        self, event: Event, settings: dict[str, Any], participant: ParticipantView, services: Services
    ) -> bool:
        return False

    def holds(
        self,
        person: dict[str, Any],
        settings: dict[str, Any],
        participant: ParticipantView,
        services: Services,
    ) -> bool:
        return False


class Script:
    """A named piece of code the "run script" step runs for a participant.

    ``run`` gets the person dict, the participant, the services (CRM, channels)
    and the step's ``arguments``; it returns a short line for the history.  Scripts
    are fire-and-forget: an exception is logged on the participant and the flow
    goes on.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def run(
        self, person: dict[str, Any], participant: Participant, services: Services, arguments: dict[str, Any]
    ) -> str:
        raise NotImplementedError


class PeriodicTask:
    """Work a plugin wants done every ``every_seconds`` (engine time): the workers'
    tick queues :meth:`run` as a job when it is due, one at a time across all
    workers.  Keep it incremental (ask for what changed since the last run, which
    you may keep in ``services.plugin_store(namespace)``) and quick; emit events for what
    you find rather than doing the work inline."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    every_seconds: ClassVar[float] = 300.0

    def run(self, services: Services) -> str:
        """Do one round; return a short line for the log."""
        raise NotImplementedError
