"""Internal notifications: tell a colleague about a participant by email or SMS.

They go to an associate — the person's company's our contact or our service contact,
or a named associate — not to the person, so they need no e-marketing consent, carry
no unsubscribe header, ignore the send window, and do not become the participant's
"last sending".  A notification that cannot be sent (the colleague has no address) is
noted and the flow goes on: the person's journey does not depend on it.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import Content
from superflow import EmailMessage
from superflow import MergeError
from superflow import Services
from superflow import SmsMessage
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import checked_address
from superflow import checked_number
from superflow import deliver
from superflow import deliver_test
from superflow import describe_owner
from superflow import find_associate
from superflow import hookimpl
from superflow import owner_field
from superflow import owner_problems
from superflow import render
from superflow import resolve_owner
from superflow import result_of
from superflow import segment_details
from superflow import sms_sender_field

RULES = ("our_contact", "our_service_contact", "associate")
NOBODY = {"unassigned": "Notify nobody (skip the step)"}
DEFAULT_FROM = "superflow@localhost"


def _crm_person(scope: dict[str, Any]) -> dict[str, Any]:
    """Enough of the person's CRM dict for :func:`resolve_owner`, from a merge scope
    (whose ``company`` has every known name, ``None`` when the person has none)."""
    company = scope.get("company") or {}
    return {"company": company if any(v is not None for v in company.values()) else None}


def recipient_field() -> fields.Nested:
    return owner_field(
        RULES, default="our_contact", label="Notify", help="The colleague to tell", fallback_labels=NOBODY
    )


class NotifyByEmailSettings(Schema):
    recipient = recipient_field()
    from_address = fields.Email(
        load_default=None,
        allow_none=True,
        metadata={"label": "From address", "help": "Empty: SUPERFLOW_NOTIFY_FROM, else superflow@localhost"},
    )
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={
            "label": "Subject",
            "help": "e.g. '{{ person.full_name }} reached {{ flow.name }}'",
            "merge_tags": True,
        },
    )
    body = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Message", "help": "Plain text with merge tags", "merge_tags": True},
    )


class NotifyBySmsSettings(Schema):
    recipient = recipient_field()
    sender = sms_sender_field("A phone number or up to 11 letters and digits")
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1530),
        metadata={
            "label": "Text",
            "help": "e.g. 'Call {{ person.full_name }} {{ person.mobile }}'",
            "merge_tags": True,
        },
    )


class _Notify(StepType):
    category = "Notifications"
    channel = ""
    address_key = ""
    address_name = ""

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return owner_problems(settings.get("recipient"), "our_contact", key="recipient")

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        results: dict[int, StepResult] = {}
        outgoing: list[tuple[int, StepContext, Any, str]] = []
        for i, ctx in enumerate(ctxs):
            found = self._recipient(ctx)
            if isinstance(found, StepResult):
                results[i] = found
                continue
            try:
                message = self._message(ctx, found[self.address_key])
            except MergeError as exc:
                results[i] = StepResult.exit(f"nobody notified: {exc}")
                continue
            outgoing.append((i, ctx, message, found.get("name") or f"associate {found['id']}"))
        transport = getattr(ctxs[0].services, self.channel)
        deliveries = deliver(transport, [(ctx, m) for _, ctx, m, _ in outgoing]) if outgoing else []
        for (i, _, message, name), delivery in zip(outgoing, deliveries, strict=True):
            result = result_of(
                delivery, self.channel, message.to, f"told {name} ({message.to}) by {self.channel}"
            )
            counters = {f"notify.{key}": value for key, value in result.counters.items()}
            results[i] = dataclasses.replace(result, sending=None, counters=counters)
        return [results[i] for i in range(len(ctxs))]

    def _recipient(self, ctx: StepContext) -> dict[str, Any] | StepResult:
        """The associate to tell, or the result when there is nobody to tell."""
        owner = resolve_owner(ctx.settings["recipient"], ctx.person)
        if owner.exit_reason:
            return StepResult.exit(f"nobody notified: {owner.exit_reason}")
        if owner.associate is None:
            return StepResult.advance(
                f"nobody notified: {owner.missing or owner.how}", counters={"notify.skipped": 1}
            )
        associate = find_associate(ctx.services, owner.associate)
        if associate is None:
            return StepResult.advance(
                f"nobody notified: associate {owner.associate} does not exist",
                counters={"notify.skipped": 1},
            )
        if not associate.get(self.address_key):
            name = associate.get("name") or f"associate {owner.associate}"
            return StepResult.advance(
                f"nobody notified: {name} has no {self.address_name}", counters={"notify.skipped": 1}
            )
        return associate

    def _message(self, ctx: StepContext, to: str) -> Any:
        scope = ctx.merge_scope()
        return self._compose(ctx.settings, to, ctx.services, lambda _, template: render(template, scope))

    def _compose(
        self, settings: dict[str, Any], to: str, services: Services, fill: Callable[[str, str], str]
    ) -> Any:
        """The message to ``to``, filled by ``fill(setting, template)``: what a send, a
        preview and a test all render alike."""
        raise NotImplementedError

    def _content(self, message: Any) -> Content:
        raise NotImplementedError

    def preview(self, settings: dict[str, Any], scope: dict[str, Any], services: Services) -> list[Content]:
        """The notification as the colleague the person's data leads to would get it."""
        owner = resolve_owner(settings["recipient"], _crm_person(scope))
        problem, to = "", ""
        associate = find_associate(services, owner.associate)
        if owner.exit_reason:
            problem = f"nobody would be notified: {owner.exit_reason} (the person would leave the flow)"
        elif owner.associate is None:
            problem = f"nobody would be notified: {owner.missing or owner.how}"
        elif associate is None:
            problem = f"nobody would be notified: associate {owner.associate} does not exist"
        elif not associate.get(self.address_key):
            name = associate.get("name") or f"associate {owner.associate}"
            problem = f"nobody would be notified: {name} has no {self.address_name}"
        else:
            to = associate[self.address_key]
        problems: list[str] = []

        def fill(name: str, template: str) -> str:
            collector = Content(self.channel)
            filled = collector.render(name, template, scope)
            problems.extend(collector.problems)
            return filled

        content = self._content(self._compose(settings, to, services, fill))
        if associate is not None:
            content.details["colleague"] = associate.get("name") or f"associate {owner.associate}"
        content.problems = [*problems, *([problem] if problem else [])]
        return [content]

    def send_test(self, settings: dict[str, Any], scope: dict[str, Any], services: Services, to: str) -> str:
        """One test notification to ``to`` (not to the colleague) now."""
        to = self._checked(to)

        def fill(name: str, template: str) -> str:
            try:
                return render(template, scope)
            except MergeError as exc:
                raise ValueError(f"the test was not sent: {name}: {exc}") from None

        message = self._compose(settings, to, services, fill)
        if isinstance(message, EmailMessage):
            message.subject = f"[Test] {message.subject}"
        else:
            message.text = f"[Test] {message.text}"
        message_id = deliver_test(getattr(services, self.channel), message, scope)
        what = "email" if self.channel == "email" else "SMS"
        return f"Test {what} sent to {to}" + (f" (id {message_id})" if message_id else "")

    def _checked(self, to: str) -> str:
        raise NotImplementedError


class NotifyByEmail(_Notify):
    name = "notify_by_email"
    label = "Notify colleague by email"
    description = "Email a colleague (the person's our contact, service contact or a named associate)."
    settings_schema = NotifyByEmailSettings
    channel = "email"
    address_key = "email"
    address_name = "email address"

    def describe(self, settings: dict[str, Any]) -> str:
        who = describe_owner(settings.get("recipient"), "our_contact")
        return f"Email {who}: {settings.get('subject', '?')!r}"

    def _message(self, ctx: StepContext, to: str) -> EmailMessage:
        message = super()._message(ctx, to)
        message.headers = {"X-Superflow-Participant": ctx.participant.id, "X-Superflow-Step": ctx.step["id"]}
        return message

    def _compose(
        self, settings: dict[str, Any], to: str, services: Services, fill: Callable[[str, str], str]
    ) -> EmailMessage:
        text = fill("body", settings["body"])
        return EmailMessage(
            to=to,
            subject=fill("subject", settings["subject"]),
            html="<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>",
            text=text,
            from_address=settings["from_address"] or services.config.setting("notify_from", DEFAULT_FROM),
            from_name="Superflow",
        )

    def _content(self, message: EmailMessage) -> Content:
        sender = f"{message.from_name} <{message.from_address}>"
        return Content(
            "email",
            to=message.to,
            sender=sender,
            subject=message.subject,
            html=message.html,
            text=message.text,
        )

    def _checked(self, to: str) -> str:
        return checked_address(to)


class NotifyBySms(_Notify):
    name = "notify_by_sms"
    label = "Notify colleague by SMS"
    description = "Text a colleague (the person's our contact, service contact or a named associate)."
    settings_schema = NotifyBySmsSettings
    channel = "sms"
    address_key = "mobile"
    address_name = "mobile number"

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Text {describe_owner(settings.get('recipient'), 'our_contact')}"

    def _compose(
        self, settings: dict[str, Any], to: str, services: Services, fill: Callable[[str, str], str]
    ) -> SmsMessage:
        return SmsMessage(to=to, sender=settings["sender"], text=fill("text", settings["text"]))

    def _content(self, message: SmsMessage) -> Content:
        return Content(
            "sms",
            to=message.to,
            sender=message.sender,
            text=message.text,
            details=segment_details(message.text),
        )

    def _checked(self, to: str) -> str:
        return checked_number(to)


@hookimpl
def superflow_register_step_types(register):
    register(NotifyByEmail())
    register(NotifyBySms())
