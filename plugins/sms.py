"""SMS: the "send SMS" step, its previews and test sends, and the designer's SMS
editor with its live segment count (``static/sms/sms.js``).  How a text is counted,
GSM-7 or UCS-2, lives in :mod:`superflow.sms_text`: one definition for the step, its
previews and the designer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import Content
from superflow import MergeError
from superflow import PermanentFailure
from superflow import Services
from superflow import SmsMessage
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import checked_number
from superflow import count_segments
from superflow import deliver
from superflow import deliver_test
from superflow import describe_text
from superflow import hookimpl
from superflow import render
from superflow import result_of
from superflow import segment_details
from superflow import sms_sender_field


class SendSmsSettings(Schema):
    sender = sms_sender_field("A phone number, or a name of up to 11 letters and digits")
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1530),
        metadata={
            "label": "Text",
            "merge_tags": True,
            "widget": "sms",
            "sms_segments": True,
            "help": (
                "160 characters in one SMS, 153 per part when longer; € [ ] { } ^ ~ | \\ count twice;"
                " one character outside GSM-7 (an emoji) makes it 70, and 67 per part"
            ),
        },
    )
    when_no_mobile = fields.String(
        load_default="skip",
        validate=validate.OneOf(("skip", "exit")),
        metadata={
            "label": "When the person has no mobile",
            "choices_labels": {"skip": "Skip this step", "exit": "Leave the flow"},
        },
    )


def compose(settings: dict[str, Any], fill: Callable[[str, str], str]) -> str:
    """The SMS text, filled by ``fill(setting, template)``: what a send, a preview
    and a test all render alike."""
    return fill("text", settings["text"])


def send_test_sms(services: Services, sender: str, to: str, text: str, scope: dict[str, Any]) -> str:
    """One test SMS now, straight to the provider under a key of its own; ``[Test] ``
    is put in front of the text."""
    number = checked_number(to)
    message = SmsMessage(to=number, sender=sender, text=f"[Test] {text}")
    message_id = deliver_test(services.sms, message, scope)
    confirmation = f"Test SMS sent to {number}, {count_segments(message.text)}"
    return confirmation + (f" (id {message_id})" if message_id else "")


class SendSms(StepType):
    """Send a text message to each participant's mobile.

    A provider may return :class:`~superflow.plugins.email.PermanentFailure` in
    place of a message id (the gateway refused that message for good): the
    participant exits with the gateway's reason and the message is not tried again.
    """

    name = "send_sms"
    label = "Send SMS"
    category = "Messages"
    description = "Send a text message to the person's mobile."
    settings_schema = SendSmsSettings
    sends = "sms"
    exits_on = ("sms.stopped",)

    def describe(self, settings: dict[str, Any]) -> str:
        words = f"Send SMS from {settings.get('sender', '?')}"
        if settings.get("text"):
            words += f": {describe_text(settings['text'])}"
        return words

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        results: dict[int, StepResult] = {}
        outgoing: list[tuple[int, StepContext, SmsMessage]] = []
        for i, ctx in enumerate(ctxs):
            mobile = ((ctx.person or {}).get("mobile") or "").strip()
            purpose = ctx.services.config.setting("sms_consent_purpose", "sms")
            problem = "" if mobile else "no mobile number"
            if mobile and ((ctx.person or {}).get("consents") or {}).get(purpose) is False:
                problem = "SMS consent withdrawn"
            if problem:
                if ctx.settings["when_no_mobile"] == "exit":
                    results[i] = StepResult.exit(problem, counters={"sms.not_sendable": 1})
                else:
                    results[i] = StepResult.advance(f"skipped: {problem}", counters={"sms.skipped": 1})
                continue
            try:
                scope = ctx.merge_scope()
                text = compose(ctx.settings, lambda _, template, scope=scope: render(template, scope))
            except MergeError as exc:
                results[i] = StepResult.exit(f"cannot send: Text: {exc}")
                continue
            outgoing.append((i, ctx, SmsMessage(to=mobile, sender=ctx.settings["sender"], text=text)))
        deliveries = deliver(ctxs[0].services.sms, [(ctx, m) for _, ctx, m in outgoing]) if outgoing else []
        for (i, _, message), delivery in zip(outgoing, deliveries, strict=True):
            if isinstance(delivery.message_id, PermanentFailure):
                reason = f"sms refused: {delivery.message_id.reason}"
                results[i] = StepResult.exit(reason, counters={"sms.failed": 1})
                continue
            counted = count_segments(message.text)
            outcome = f"sent to {message.to}, {counted}"
            results[i] = result_of(delivery, "sms", message.to, outcome, {"sms.segments": counted.parts})
        return [results[i] for i in range(len(ctxs))]

    def preview(self, settings: dict[str, Any], scope: dict[str, Any], services: Services) -> list[Content]:
        person = scope["person"]
        mobile = (person.get("mobile") or "").strip()
        content = Content("sms", to=mobile, sender=settings["sender"])
        content.text = compose(settings, lambda name, template: content.render(name, template, scope))
        content.details = segment_details(content.text)
        purpose = services.config.setting("sms_consent_purpose", "sms")
        problem = "" if mobile else "no mobile number"
        if mobile and (person.get("consents") or {}).get(purpose) is False:
            problem = "SMS consent withdrawn"
        if problem:
            then = "leave the flow" if settings["when_no_mobile"] == "exit" else "skip this step"
            content.problems.append(f"this person would not get it: {problem} (they would {then})")
        return [content]

    def send_test(self, settings: dict[str, Any], scope: dict[str, Any], services: Services, to: str) -> str:
        checked_number(to)
        try:
            text = compose(settings, lambda _, template: render(template, scope))
        except MergeError as exc:
            raise ValueError(f"the test was not sent: Text: {exc}") from None
        return send_test_sms(services, settings["sender"], to, text, scope)


@hookimpl
def superflow_register_step_types(register):
    register(SendSms())


#: The designer's SMS editor (the ``sms`` widget and the channel's preview), served
#: from this plugin's own static folder.
designer_assets = Blueprint(
    "sms_designer",
    __name__,
    static_folder=str(Path(__file__).parent / "static" / "sms"),
    static_url_path="/plugins/sms/static",
)


@hookimpl
def superflow_register_routes(register):
    register(designer_assets)


@hookimpl
def superflow_register_designer_scripts(register):
    register("/plugins/sms/static/sms.js", module=True)
