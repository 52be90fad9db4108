"""Email: the "send email" step, SMTP delivery, and opens/clicks as success
criteria and split conditions."""

from __future__ import annotations

import hashlib
import hmac
import re
import smtplib
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, make_msgid
from typing import Any

from marshmallow import Schema, fields, validate

from superflow import hookimpl
from superflow.channels import ChannelError, EmailMessage, EmailTransport, deliver, result_of
from superflow.components import Filter, StepContext, StepResult, StepType, SuccessCriterion
from superflow.merge import MergeError, render

EMAIL_ACTIONS = {"email.opened": "opened the email", "link.clicked": "clicked a link in the email"}


class SendEmailSettings(Schema):
    from_name = fields.String(load_default="", metadata={"label": "From name"})
    from_address = fields.Email(required=True, metadata={"label": "From address"})
    reply_to = fields.Email(load_default=None, allow_none=True, metadata={"label": "Reply to"})
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"label": "Subject", "merge_tags": True},
    )
    html = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Body", "widget": "html", "merge_tags": True},
    )
    text = fields.String(
        load_default="",
        metadata={"label": "Plain-text part", "help": "Empty: made from the body", "merge_tags": True},
    )
    tracking = fields.Boolean(load_default=True, metadata={"label": "Track opens and clicks"})
    when_not_sendable = fields.String(
        load_default="exit",
        validate=validate.OneOf(("exit", "skip")),
        metadata={"label": "When the person cannot receive email", "help": "exit the flow or skip this step"},
    )


def html_to_text(html: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</h\d>|</li>", "\n", html)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def unsubscribe_token(secret: str, participant_id: str) -> str:
    return hmac.new(secret.encode(), participant_id.encode(), hashlib.sha256).hexdigest()[:32]


class SendEmail(StepType):
    name = "send_email"
    label = "Send email"
    category = "Messages"
    description = "Send an email with merge tags to the person."
    settings_schema = SendEmailSettings
    sends = "email"

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Send email {settings.get('subject', '')!r}"

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        results: dict[int, StepResult] = {}
        outgoing: list[tuple[int, StepContext, EmailMessage]] = []
        for i, ctx in enumerate(ctxs):
            problem = self._cannot_send(ctx.person or {})
            if problem:
                results[i] = self._not_sendable(ctx, problem)
                continue
            try:
                outgoing.append((i, ctx, self._message(ctx)))
            except MergeError as exc:
                results[i] = StepResult.exit(f"cannot send: {exc}")
        deliveries = deliver(ctxs[0].services.email, [(ctx, m) for _, ctx, m in outgoing]) if outgoing else []
        for (i, _, message), delivery in zip(outgoing, deliveries, strict=True):
            results[i] = result_of(delivery, "email", message.to, f"sent to {message.to}")
        return [results[i] for i in range(len(ctxs))]

    def _cannot_send(self, person: dict[str, Any]) -> str:
        if not person.get("email"):
            return "no email address"
        if person.get("email_blocked"):
            return "email address blocked or bounced"
        if (person.get("consents") or {}).get("emarketing") is False:
            return "no e-marketing consent"
        return ""

    def _not_sendable(self, ctx: StepContext, problem: str) -> StepResult:
        if ctx.settings["when_not_sendable"] == "skip":
            return StepResult.advance(f"skipped: {problem}", counters={"email.skipped": 1})
        return StepResult.exit(problem, counters={"email.not_sendable": 1})

    def _message(self, ctx: StepContext) -> EmailMessage:
        s, person = ctx.settings, ctx.person or {}
        scope = ctx.merge_scope()
        html = render(s["html"], scope, html=True)
        text = render(s["text"], scope) if s["text"] else html_to_text(html)
        base = ctx.services.config.base_url.rstrip("/")
        token = unsubscribe_token(ctx.services.config.secret_key, ctx.participant.id)
        unsubscribe = f"{base}/u/{ctx.participant.id}/{token}"
        return EmailMessage(
            to=person["email"],
            subject=render(s["subject"], scope),
            html=html,
            text=text,
            from_address=s["from_address"],
            from_name=s["from_name"],
            reply_to=s.get("reply_to") or "",
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "X-Superflow-Participant": ctx.participant.id,
                "X-Superflow-Step": ctx.step["id"],
            },
        )


class SmtpTransport(EmailTransport):
    """Plain SMTP (``SUPERFLOW_SMTP_*``).  It cannot look a message up afterwards,
    so the engine's ledger keeps it from sending twice."""

    name = "smtp"
    label = "SMTP server"
    idempotent = False

    def send_many(self, messages: list[tuple[EmailMessage, str]]) -> list[str]:
        c = self.config
        ids: list[str] = []
        try:
            with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=30) as smtp:
                if c.smtp_starttls:
                    smtp.starttls()
                if c.smtp_user:
                    smtp.login(c.smtp_user, c.smtp_password)
                for message, key in messages:
                    mime = self._mime(message, key)
                    smtp.send_message(mime)
                    ids.append(mime["Message-ID"])
                return ids
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"SMTP {c.smtp_host}:{c.smtp_port}: {exc}", sent=ids) from exc

    def _mime(self, m: EmailMessage, key: str) -> MimeMessage:
        mime = MimeMessage()
        mime["From"] = formataddr((m.from_name, m.from_address))
        mime["To"] = m.to
        mime["Subject"] = m.subject
        mime["Message-ID"] = make_msgid(idstring=key.replace(":", "."), domain=m.from_address.split("@")[-1])
        if m.reply_to:
            mime["Reply-To"] = m.reply_to
        for name, value in m.headers.items():
            mime[name] = value
        mime.set_content(m.text)
        mime.add_alternative(m.html, subtype="html")
        return mime


class EmailActionSettings(Schema):
    action = fields.String(
        load_default="email.opened",
        validate=validate.OneOf(tuple(EMAIL_ACTIONS)),
        metadata={"label": "The person"},
    )
    step = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Email of step", "help": "Empty: any email of this flow"},
    )


def _did(participant: Any, settings: dict[str, Any]) -> bool:
    wanted = settings["action"]
    for action in participant.actions if participant is not None else ():
        kind, _, step = action.partition("@")
        if kind == wanted and (not settings.get("step") or step == settings["step"]):
            return True
    return False


class EmailActionCriterion(SuccessCriterion):
    name = "email_action"
    label = "Opened or clicked an email"
    category = "Messages"
    event_types = tuple(EMAIL_ACTIONS)
    settings_schema = EmailActionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When the person {EMAIL_ACTIONS[settings.get('action', 'email.opened')]}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any) -> bool:
        if event.type != settings["action"] or event.data.get("participant_id") != participant.id:
            return False
        return not settings.get("step") or event.data.get("step_id") == settings["step"]


class DidEmailAction(Filter):
    name = "email_action"
    label = "Opened or clicked an email of this flow"
    category = "Messages"
    needs_participant = True
    settings_schema = EmailActionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"The person {EMAIL_ACTIONS[settings.get('action', 'email.opened')]}"

    def matches(self, person: dict[str, Any], settings: dict[str, Any], participant: Any) -> bool:
        return _did(participant, settings)


@hookimpl
def superflow_register_step_types(register):
    register(SendEmail())


@hookimpl
def superflow_register_email_transports(register):
    register(SmtpTransport)


@hookimpl
def superflow_register_success_criteria(register):
    register(EmailActionCriterion())


@hookimpl
def superflow_register_filters(register):
    register(DidEmailAction())
