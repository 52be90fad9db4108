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
from typing import Any

from marshmallow import Schema, fields, validate

from superflow import hookimpl
from superflow.channels import EmailMessage, SmsMessage, deliver, result_of
from superflow.components import StepContext, StepResult, StepType
from superflow.merge import MergeError, render

from .owners import describe_owner, find_associate, owner_field, owner_problems, resolve_owner

RULES = ("our_contact", "our_service_contact", "associate")
NOBODY = {"unassigned": "Notify nobody (skip the step)"}
DEFAULT_FROM = "superflow@localhost"


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
    sender = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^(\+?\d{3,15}|[A-Za-z0-9 ]{1,11})$", error="a number or up to 11 letters and digits"
        ),
        metadata={"label": "Sender", "help": "A phone number or up to 11 letters and digits"},
    )
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
        scope = ctx.merge_scope()
        text = render(ctx.settings["body"], scope)
        config = ctx.services.config
        return EmailMessage(
            to=to,
            subject=render(ctx.settings["subject"], scope),
            html="<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>",
            text=text,
            from_address=ctx.settings["from_address"] or config.setting("notify_from", DEFAULT_FROM),
            from_name="Superflow",
            headers={"X-Superflow-Participant": ctx.participant.id, "X-Superflow-Step": ctx.step["id"]},
        )


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

    def _message(self, ctx: StepContext, to: str) -> SmsMessage:
        text = render(ctx.settings["text"], ctx.merge_scope())
        return SmsMessage(to=to, sender=ctx.settings["sender"], text=text)


@hookimpl
def superflow_register_step_types(register):
    register(NotifyByEmail())
    register(NotifyBySms())
