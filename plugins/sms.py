"""SMS: the "send SMS" step and honest segment counting (GSM-7 or UCS-2)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from superflow import hookimpl
from superflow.channels import SmsMessage, deliver, result_of
from superflow.components import StepContext, StepResult, StepType
from superflow.merge import MergeError, render

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


def segments(text: str) -> tuple[str, int]:
    """The encoding a message needs and how many SMS it takes."""
    if all(ch in GSM7 or ch in GSM7_EXTENSION for ch in text):
        length = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return "GSM-7", 1 if length <= 160 else -(-length // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


class SendSmsSettings(Schema):
    sender = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^(\+?\d{3,15}|[A-Za-z0-9 ]{1,11})$", error="a number or up to 11 letters and digits"
        ),
        metadata={"label": "Sender"},
    )
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1530),
        metadata={"label": "Text", "merge_tags": True},
    )
    when_no_mobile = fields.String(
        load_default="skip",
        validate=validate.OneOf(("skip", "exit")),
        metadata={"label": "When the person has no mobile"},
    )


class SendSms(StepType):
    name = "send_sms"
    label = "Send SMS"
    category = "Messages"
    description = "Send a text message to the person's mobile."
    settings_schema = SendSmsSettings
    sends = "sms"

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Send SMS from {settings.get('sender', '?')}"

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        results: dict[int, StepResult] = {}
        outgoing: list[tuple[int, StepContext, SmsMessage]] = []
        for i, ctx in enumerate(ctxs):
            mobile = (ctx.person or {}).get("mobile")
            if not mobile:
                if ctx.settings["when_no_mobile"] == "exit":
                    results[i] = StepResult.exit("no mobile number")
                else:
                    results[i] = StepResult.advance("skipped: no mobile number", counters={"sms.skipped": 1})
                continue
            try:
                text = render(ctx.settings["text"], ctx.merge_scope())
            except MergeError as exc:
                results[i] = StepResult.exit(f"cannot send: {exc}")
                continue
            outgoing.append((i, ctx, SmsMessage(to=mobile, sender=ctx.settings["sender"], text=text)))
        deliveries = deliver(ctxs[0].services.sms, [(ctx, m) for _, ctx, m in outgoing]) if outgoing else []
        for (i, _, message), delivery in zip(outgoing, deliveries, strict=True):
            encoding, parts = segments(message.text)
            outcome = f"sent to {message.to}, {parts} {encoding} part{'s' if parts > 1 else ''}"
            results[i] = result_of(delivery, "sms", message.to, outcome, {"sms.segments": parts})
        return [results[i] for i in range(len(ctxs))]


@hookimpl
def superflow_register_step_types(register):
    register(SendSms())
