"""Email: the "send email" step, the SMTP transport, and opens and clicks as
triggers, success criteria and split conditions.

Tracked emails (the step's ``tracking`` setting, on by default) carry links of the
shape ``<base>/t/c/<token>`` and an open pixel ``<base>/t/o/<token>.gif``; every
email carries ``List-Unsubscribe: <base>/u/<token>`` (with RFC 8058 one-click).  The
tokens are sealed by :mod:`superflow.tracking` (AES-GCM under the app's secret): they
hold the participant, step and person ids and a link's URL, none of them in the
clear.  The web app answers them by emitting ``link.clicked``
(``data={"participant_id", "step_id", "flow_id", "url"}``) and ``email.opened``
(``data={"participant_id", "step_id", "flow_id"}``) events for the person.

The body is raw HTML, a design of blocks (:mod:`.design`, made into HTML by
:mod:`.rendering`; new ones start from :mod:`.starters`) or an email of the content
library (:mod:`.library`, its screens :mod:`.library_screens`); pictures come from the
image library (:mod:`.images`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from html import escape
from html import unescape
from pathlib import Path
from pathlib import PurePosixPath
from typing import Any

from flask import Blueprint
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates
from marshmallow import validates_schema

from superflow import EMAIL_ACTIONS
from superflow import ChannelError
from superflow import Content
from superflow import CrmError
from superflow import EmailMessage
from superflow import EmailTransport
from superflow import Filter
from superflow import MaybeSent
from superflow import MergeError
from superflow import PermanentFailure
from superflow import Services
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import SuccessCriterion
from superflow import TemporaryFailure
from superflow import Trigger
from superflow import checked_address
from superflow import deliver
from superflow import deliver_test
from superflow import hookimpl
from superflow import link_actions_field
from superflow import render
from superflow import result_of
from superflow import rewrite_links
from superflow import seal
from superflow import unsubscribe_url
from superflow import untracked_warnings

from . import smtp_message
from .design import lawful_problems
from .design import load_design
from .library import Library
from .rendering import UNSUBSCRIBE
from .rendering import UNTRACKED
from .rendering import for_preview
from .rendering import render_design

log = logging.getLogger(__name__)

MAX_ATTACHMENTS_BYTES = 25 * 1024 * 1024
#: Where the body comes from: raw HTML, a design of blocks, or an email of the library.
BODIES = {"html": "Raw HTML", "design": "Designed with blocks", "library": "An email from the library"}
# The preheader: shown by inboxes after the subject, hidden in the message itself.
PREHEADER = '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true">{}</div>'
SENT_TO_TTL = 30 * 86400


class AttachmentSettings(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": "File name", "help": "The name the recipient sees, e.g. price-list.pdf"},
    )
    path = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "File", "help": "A file in the data folder's attachments/ folder"},
    )


class SendEmailSettings(Schema):
    from_name = fields.String(load_default="", metadata={"label": "From name"})
    from_address = fields.Email(required=True, metadata={"label": "From address"})
    reply_to = fields.Email(load_default=None, allow_none=True, metadata={"label": "Reply to"})
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"label": "Subject", "merge_tags": True},
    )
    preheader = fields.String(
        load_default="",
        validate=validate.Length(max=250),
        metadata={
            "label": "Preheader",
            "help": "The line inboxes show after the subject; empty: the start of the body",
            "merge_tags": True,
        },
    )
    body = fields.String(
        load_default="html",
        validate=validate.OneOf(BODIES),
        metadata={"label": "Email", "widget": "email_body", "choices_labels": BODIES, "content": True},
    )
    design = fields.Dict(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Design",
            "widget": "email_design",
            "show_if": {"body": "design"},
            "content": True,
        },
    )
    library_email = fields.String(
        load_default="",
        validate=validate.Length(max=20),
        metadata={
            "label": "Library email",
            "help": "Linked: changes to the library email reach this step at its next send",
            "widget": "email_library",
            "show_if": {"body": "library"},
            "content": True,
        },
    )
    html = fields.String(
        load_default="",
        metadata={"label": "Body", "widget": "html", "merge_tags": True, "show_if": {"body": "html"}},
    )
    text = fields.String(
        load_default="",
        metadata={
            "label": "Plain-text part",
            "help": "Empty: made from the body",
            "merge_tags": True,
            "widget": "email_text",
        },
    )
    attachments = fields.List(
        fields.Nested(AttachmentSettings),
        load_default=list,
        metadata={
            "label": "Attachments",
            "help": "Files in the data folder's attachments/ folder; at most 25 MB each and in all",
            "upload_url": "/email/attachments",
            "content": True,
        },
    )
    tracking = fields.Boolean(load_default=True, metadata={"label": "Track opens and clicks"})
    marketing = fields.Boolean(
        load_default=True,
        metadata={
            "label": "Marketing email",
            "help": "Needs an unsubscribe link and the sender's postal address; off only for service"
            " messages such as a receipt",
        },
    )
    link_actions = link_actions_field()
    subscription = fields.String(
        load_default="",
        metadata={
            "label": "Mailing subscription",
            "help": "e.g. newsletter: persons who unsubscribed from it get nothing; empty: none",
        },
    )
    when_not_sendable = fields.String(
        load_default="exit",
        validate=validate.OneOf(("exit", "skip")),
        metadata={"label": "When the person cannot receive email", "help": "exit the flow or skip this step"},
    )

    @validates_schema(skip_on_field_errors=False)
    def _has_a_body(self, data: dict[str, Any], partial: Any = False, **kwargs: Any) -> None:
        """The body the step's ``body`` names is given (not checked while saving a draft)."""
        if partial:
            return
        needed = {"html": "html", "design": "design", "library": "library_email"}[data.get("body") or "html"]
        if not data.get(needed):
            raise ValidationError("Missing data for required field.", needed)

    @validates("design")
    def _design_is_whole(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        if value is not None:
            load_design(value)

    @validates("attachments")
    def _attachments_fit(self, value: list[dict[str, Any]], **kwargs: Any) -> None:
        problems = attachment_problems(value, attachments_dir(), check_missing=False)
        if problems:
            raise ValidationError(problems)


def attachments_dir(config: Any = None) -> Path:
    """``<data>/attachments``: of ``config``, else of the process's runtime (settings
    schemas are checked without one at hand), else of the environment's
    configuration."""
    if config is None:
        from superflow import Config
        from superflow.runtime import running

        current = running()
        config = current.config if current is not None else Config.from_env()
    return Path(config.data_dir) / "attachments"


def megabytes(size: int) -> str:
    """``26.0 MB``: how sizes are named in attachment errors."""
    return f"{size / (1024 * 1024):.1f} MB"


def attachment_problems(items: list[dict[str, Any]], folder: Path, *, check_missing: bool) -> list[str]:
    """What is wrong with attachment settings: a path outside the attachments
    folder, a file over 25 MB, more than 25 MB together, and (``check_missing``)
    a file that is not there.  Each message names the file."""
    problems, total, found = [], 0, []
    for item in items:
        name, path = item.get("name") or "", item.get("path") or ""
        if not path:
            continue
        relative = PurePosixPath(path)
        if relative.is_absolute() or ".." in relative.parts:
            problems.append(f"{name or path}: {path!r} must be a file name under the attachments folder")
            continue
        file = folder / relative
        if not file.is_file():
            if check_missing:
                problems.append(f"{name or path}: there is no file {path!r} in {folder}")
            continue
        size = file.stat().st_size
        if size > MAX_ATTACHMENTS_BYTES:
            problems.append(f"{name or path} is {megabytes(size)}; an attachment may be at most 25 MB")
        total += size
        found.append(name or path)
    if total > MAX_ATTACHMENTS_BYTES and len(found) > 1:
        problems.append(
            f"{', '.join(found)} are {megabytes(total)} together; attachments may be at most 25 MB in all"
        )
    return problems


def html_to_text(html: str) -> str:
    """A plain-text part from HTML: links keep their address, tags go (and what
    no reader sees: styles, the head, comments such as Outlook's conditional parts)."""
    html = re.sub(r"(?is)<!--.*?-->|<(style|head|title|script)\b.*?</\1\s*>", "", html)
    text = re.sub(
        r"(?is)<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"'][^>]*>(.*?)</a>",
        lambda m: m.group(2) if m.group(1) in m.group(2) else f"{m.group(2)} ({m.group(1)})",
        html,
    )
    text = re.sub(r"(?i)<br\s*/?>|</p>|</h\d>|</li>|</div>|</tr>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = unescape(text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class BodyMissing(Exception):
    """The step has no body to send yet (or its library email was deleted); the
    message says what to do, in the marketer's words."""


def _running_services() -> Any:
    """The process's services for readiness checks, which are handed none (as
    :func:`attachments_dir`); ``None`` outside a running app or worker."""
    from superflow.runtime import running

    return running()


def body_template(settings: dict[str, Any], services: Any) -> str:
    """The step's HTML body before merge tags are filled: its raw HTML, its design
    made into HTML, or its library email's design as the library has it now."""
    kind = settings.get("body") or "html"
    sender = services.config.sender_address if services is not None else ""
    if kind == "design":
        if not (settings.get("design") or {}).get("blocks"):
            raise BodyMissing("Design: choose a template or add blocks")
        return render_design(load_design(settings["design"]), sender)
    if kind == "library":
        email_id = str(settings.get("library_email") or "")
        if not email_id:
            raise BodyMissing("Library email: choose an email from the library")
        found = Library(services).get(email_id) if services is not None else None
        if found is None:
            raise BodyMissing(f"Library email: the library has no email {email_id} any more; choose another")
        return render_design(load_design(found["design"]), sender)
    if not settings.get("html"):
        raise BodyMissing("Body is required")
    return settings["html"]


def made_from(settings: dict[str, Any], services: Any) -> str:
    """Where the step's body comes from, as the Flow content tab says it."""
    kind = settings.get("body") or "html"
    if kind == "library":
        email_id = str(settings.get("library_email") or "")
        found = Library(services).get(email_id) if services is not None else None
        if found is None:
            return "a library email that is no longer in the library"
        return f"library email {found['name']!r} (linked: changes in the library reach it)"
    return "a design of blocks in this step" if kind == "design" else "raw HTML in this step"


def body_problems(settings: dict[str, Any], services: Any) -> list[str]:
    """What the step's body lacks before it can be sent: the body itself, and for a
    marketing email designed with blocks, the lawful footer."""
    kind = settings.get("body") or "html"
    if services is None and kind == "library":
        return []  # no library at hand to look in (a check outside the app and workers)
    try:
        body_template(settings, services)
    except BodyMissing as exc:
        return [str(exc)]
    except ValidationError:
        return []  # the settings' own errors say what is wrong
    if kind == "html" or settings.get("marketing") is False:
        return []
    design = (
        settings.get("design")
        if kind == "design"
        else Library(services).get(settings["library_email"])["design"]
    )
    sender = services.config.sender_address if services is not None else ""
    return lawful_problems(load_design(design), sender)


def unsubscribe_token(
    secret: str, participant_id: str, step_id: str = "", person_id: str = "", subscription: str = ""
) -> str:
    """The sealed token of an email's unsubscribe link: withdraws e-marketing consent,
    or cancels ``subscription`` when the step names one."""
    return seal(secret, "u", participant_id, step_id, person_id, subscription)


def add_tracking(
    html: str, base: str, secret: str, participant_id: str, step_id: str, person_id: str = ""
) -> str:
    """Route the body's web links through the tracking address and add an open pixel."""
    return rewrite_links(html, base, secret, participant_id, step_id, person_id)


def _address_key(address: str) -> str:
    """A short digest of the lower-cased address: the duplicate check keeps one per
    participant, and a digest costs Redis less than the address itself."""
    digest = hashlib.blake2b(address.strip().lower().encode(), digest_size=9).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _sender(name: str, address: str) -> str:
    return f"{name} <{address}>" if name else address


class SendEmail(StepType):
    """Send an email with merge tags to each participant.

    Before sending it checks, in this order, and otherwise exits the participant
    (or skips the step, with ``when_not_sendable: skip``) with the reason: an
    address ("no email address"), not blocked or bounced, e-marketing consent not
    withdrawn, the mailing's ``subscription`` not cancelled, and not a duplicate
    ("duplicate address": another person with the same address already got, or is
    getting, this step's email).  Addresses the CRM says more than one person has
    are kept per flow step in the Redis hash ``sf:sent-to:<flow id>:<step id>``
    (address digest → person id, kept 30 days after the last send), so a person
    re-enrolled in the flow is not their own duplicate.

    Attachments reach the transport as ``EmailMessage.attachments`` items
    ``{"name", "content_type", "data" (bytes), "size"}``.  A transport may return a
    :class:`PermanentFailure` in place of a message id: the participant exits with
    the server's reason, and when the address itself was refused the person's
    ``email_blocked`` is set in the CRM.
    """

    name = "send_email"
    label = "Send email"
    category = "Messages"
    description = "Send an email with merge tags to the person."
    guide = """
    **The body** (`body`) is one of three:

    - `design`: blocks edited in the designer — text (bold, italic, underline, links, lists), image,
      button, columns (2 or 3, holding text, image, button, divider, spacer or social links),
      divider, spacer, social links and footer. The server checks the design (at most 60 blocks,
      links `http`, `https` or `mailto` or one merge tag, colours `#rgb`/`#rrggbb`; an error names the
      block: "Block 3 (Button), Link: must start with https://, http:// or mailto:") and makes it into
      responsive email HTML with MJML (`mjml-python`), every value escaped and a text block kept to
      `p br b strong i em u a ul ol li h1 h2 h3`. A new email starts from a template: *Newsletter*,
      *Welcome*, *Event invitation*, *Plain letter* (or *Blank*).
    - `library`: an email of the **Email library** (`/email/library`), linked by `library_email`:
      each send uses the library email as it is then, so changes made in the library reach the
      step from its next email on. *Copy into this step instead* makes it the step's own design.
      A library email a flow uses cannot be deleted ("used by the flows …").
    - `html`: raw HTML, as before (the default, so existing steps keep working).

    Merge tags work in every text of a design and are filled per person at send time. The HTML
    that is sent goes through tracking: its links become `/t/c/…` tracked links unless the
    marketer unticks *Track clicks* for that link or button (the link dialog and the button say
    which). The plain-text part is made from it (styles and Outlook's conditional parts left out).

    **Marketing emails** (`marketing`, on by default) must be lawful: a designed or library email
    needs a Footer block, which carries the unsubscribe link (`/u/…`) and the sender's postal
    address (the block's own, else `SUPERFLOW_SENDER_ADDRESS`); without them the flow cannot start
    ("a marketing email needs a footer block …"). A raw-HTML marketing email gets a warning
    unless it has `<a href="{unsubscribe_url}">`, which the send replaces with the person's
    unsubscribe address.

    **Images** are uploaded from the image block (PNG, JPEG, GIF or WebP, checked on the server;
    see docs/operators.md "Email images") and served at `<base>/images/<hash>.<ext>`.
    """
    settings_schema = SendEmailSettings
    sends = "email"
    exits_on = ("email.unsubscribed",)

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        folder = attachments_dir()
        problems = [
            f"attachments: {p}"
            for p in attachment_problems(settings.get("attachments") or [], folder, check_missing=True)
        ]
        return body_problems(settings, _running_services()) + problems

    def merge_texts(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """The design (or library email) made into HTML, whose merge tags are checked
        like the subject's."""
        if (settings.get("body") or "html") == "html":
            return []
        try:
            return [("design", body_template(settings, _running_services()))]
        except (BodyMissing, ValidationError, TypeError, AttributeError, KeyError):
            return []

    def warnings(self, settings: dict[str, Any], flow: Any) -> list[str]:
        if settings.get("body", "html") != "html" or settings.get("marketing") is False:
            return []
        if settings.get("html") and UNSUBSCRIBE not in settings["html"]:
            return [
                "html: a marketing email should have an unsubscribe link and your postal address;"
                f' write <a href="{UNSUBSCRIBE}">Unsubscribe</a> in the body, or design it with blocks'
            ]
        return []

    def describe(self, settings: dict[str, Any]) -> str:
        words = f"Send email {settings.get('subject', '')!r}"
        count = len(settings.get("attachments") or [])
        if count:
            words += f" with {count} attachment{'s' if count > 1 else ''}"
        return words

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        results: dict[int, StepResult] = {}
        candidates: list[tuple[int, StepContext]] = []
        for i, ctx in enumerate(ctxs):
            problem = self._cannot_send(ctx.person or {}, ctx.settings)
            if problem:
                results[i] = self._not_sendable(ctx, problem)
            else:
                candidates.append((i, ctx))
        if not candidates:
            return [results[i] for i in range(len(ctxs))]
        try:
            attachments = load_attachments(
                ctxs[0].settings["attachments"], attachments_dir(ctxs[0].services.config)
            )
        except AttachmentMissing as exc:
            for i, _ in candidates:
                results[i] = StepResult.retry(300, f"email not sent: {exc}", counters={"email.failed": 1})
            return [results[i] for i in range(len(ctxs))]
        except AttachmentTooLarge as exc:
            for i, _ in candidates:
                results[i] = StepResult.exit(f"email not sent: {exc}", counters={"email.failed": 1})
            return [results[i] for i in range(len(ctxs))]
        try:
            body = body_template(ctxs[0].settings, ctxs[0].services)
        except BodyMissing as exc:
            for i, _ in candidates:
                results[i] = StepResult.exit(f"email not sent: {exc}", counters={"email.failed": 1})
            return [results[i] for i in range(len(ctxs))]
        written: list[tuple[int, StepContext, EmailMessage]] = []
        for i, ctx in candidates:
            try:
                written.append((i, ctx, self._message(ctx, attachments, body)))
            except MergeError as exc:
                results[i] = StepResult.exit(f"cannot send: {exc}")
        outgoing: list[tuple[int, StepContext, EmailMessage]] = []
        for (i, ctx, message), first in zip(written, self._first_of_address(written), strict=True):
            if first:
                outgoing.append((i, ctx, message))
            else:
                results[i] = self._not_sendable(ctx, "duplicate address")
        deliveries = deliver(ctxs[0].services.email, [(ctx, m) for _, ctx, m in outgoing]) if outgoing else []
        refused: list[tuple[str, dict[str, Any], str]] = []
        for (i, ctx, message), delivery in zip(outgoing, deliveries, strict=True):
            failure = delivery.message_id
            if isinstance(failure, PermanentFailure):
                if failure.address_refused:
                    key = f"{ctx.idempotency_key}:email_blocked"
                    refused.append((ctx.participant.person_id, {"email_blocked": True}, key))
                counter = "email.bounced" if failure.address_refused else "email.failed"
                results[i] = StepResult.exit(f"email refused: {failure.reason}", counters={counter: 1})
                continue
            outcome = f"sent to {message.to}"
            if message.attachments:
                outcome += f" with {', '.join(a['name'] for a in message.attachments)}"
            results[i] = result_of(delivery, "email", message.to, outcome)
        if refused:
            try:
                ctxs[0].crm.update_persons(refused)
            except CrmError as exc:
                # The participants still exit with the server's reason; the address is
                # refused (and marked) again the next time anyone sends to it.
                log.warning("could not mark refused email addresses as blocked: %s", exc)
        return [results[i] for i in range(len(ctxs))]

    def _cannot_send(self, person: dict[str, Any], settings: dict[str, Any]) -> str:
        if not person.get("email"):
            return "no email address"
        if person.get("email_blocked"):
            return "email address blocked or bounced"
        if (person.get("consents") or {}).get("emarketing") is False:
            return "no e-marketing consent"
        subscription = settings.get("subscription")
        if subscription and (person.get("subscriptions") or {}).get(subscription) is False:
            return f"unsubscribed from {subscription}"
        return ""

    def _first_of_address(self, written: list[tuple[int, StepContext, EmailMessage]]) -> list[bool]:
        """True where this person may have this step's email at this address: the
        address is theirs alone in the CRM, or they are the first (or the same person
        again) to get it in this flow step and visit.  Only addresses the CRM says are
        shared are recorded, so the check costs nothing for everyone else."""
        if not written:
            return []
        ctx0 = written[0][1]
        shared = ctx0.crm.shared_addresses([message.to for _, _, message in written])
        checked = [(i, ctx, message) for i, ctx, message in written if message.to.strip().lower() in shared]
        first = dict.fromkeys((i for i, _, _ in written), True)
        if checked:
            visit = ctx0.idempotency_key[len(f"{ctx0.participant.id}:{ctx0.step['id']}") :]
            store = ctx0.services.plugin_store("sent-to")
            key = store.key(f"{ctx0.flow.id}:{ctx0.step['id']}{visit}")
            addresses = [_address_key(message.to) for _, _, message in checked]
            pipe = store.redis.pipeline()
            for address, (_, ctx, _) in zip(addresses, checked, strict=True):
                pipe.hsetnx(key, address, ctx.participant.person_id)
            pipe.hmget(key, addresses)
            pipe.expire(key, SENT_TO_TTL)
            holders = pipe.execute()[len(addresses)]
            for holder, (i, ctx, _) in zip(holders, checked, strict=True):
                first[i] = holder == ctx.participant.person_id
        return [first[i] for i, _, _ in written]

    def _not_sendable(self, ctx: StepContext, problem: str) -> StepResult:
        if ctx.settings["when_not_sendable"] == "skip":
            return StepResult.advance(f"skipped: {problem}", counters={"email.skipped": 1})
        return StepResult.exit(problem, counters={"email.not_sendable": 1})

    @staticmethod
    def _compose(
        settings: dict[str, Any], body: str, fill: Callable[[str, str, bool], str]
    ) -> tuple[str, str, str]:
        """The subject, HTML and plain-text part, filled by ``fill(setting, template,
        html)`` (``body`` is the HTML template: :func:`body_template`): what a send, a
        preview and a test all render alike."""
        html = fill("html", body, True)
        text = fill("text", settings["text"], False) if settings["text"] else html_to_text(html)
        subject = " ".join(fill("subject", settings["subject"], False).split())
        if settings.get("preheader"):
            preheader = PREHEADER.format(" ".join(fill("preheader", settings["preheader"], True).split()))
            opening = re.search(r"(?i)<body[^>]*>", html)
            html = html[: opening.end()] + preheader + html[opening.end() :] if opening else preheader + html
        return subject, html, text

    def preview(self, settings: dict[str, Any], scope: dict[str, Any], services: Services) -> list[Content]:
        """The email as the person would get it, before its links are made tracked
        (``details["tracking"]`` says whether they will be)."""
        person = scope["person"]
        content = Content(
            "email",
            to=(person.get("email") or "").strip(),
            sender=_sender(settings["from_name"], settings["from_address"]),
            details={
                "reply_to": settings.get("reply_to") or "",
                "attachments": [a["name"] for a in settings["attachments"]],
                "tracking": settings["tracking"],
                "subscription": settings["subscription"] or "",
                "made_from": made_from(settings, services),
            },
        )
        try:
            body = body_template(settings, services)
        except BodyMissing as exc:
            content.problems.append(str(exc))
            body = ""
        content.subject, content.html, content.text = self._compose(
            settings, body, lambda name, template, html: content.render(name, template, scope, html=html)
        )
        content.html, content.text = for_preview(content.html), for_preview(content.text)
        folder = attachments_dir(services.config)
        content.problems += [
            f"attachments: {p}"
            for p in attachment_problems(settings["attachments"], folder, check_missing=True)
        ]
        problem = self._cannot_send(person, settings)
        if problem:
            then = "skip this step" if settings["when_not_sendable"] == "skip" else "leave the flow"
            content.problems.append(f"this person would not get it: {problem} (they would {then})")
        return [content]

    def send_test(self, settings: dict[str, Any], scope: dict[str, Any], services: Services, to: str) -> str:
        """One test email now, straight to the transport: no tracked links, no
        unsubscribe token, a key of its own (never the ledger of real sends)."""
        address = checked_address(to)

        def fill(name: str, template: str, html: bool) -> str:
            try:
                return render(template, scope, html=html)
            except MergeError as exc:
                raise ValueError(f"the test was not sent: {_field_label(name)}: {exc}") from None

        try:
            body = body_template(settings, services)
        except BodyMissing as exc:
            raise ValueError(f"the test was not sent: {exc}") from None
        subject, html, text = self._compose(settings, body, fill)
        html, text = for_preview(html), for_preview(text)
        try:
            attachments = load_attachments(settings["attachments"], attachments_dir(services.config))
        except (AttachmentMissing, AttachmentTooLarge) as exc:
            raise ValueError(f"the test was not sent: {exc}") from None
        message = EmailMessage(
            to=address,
            subject=f"[Test] {subject}",
            html=html,
            text=text,
            from_address=settings["from_address"],
            from_name=settings["from_name"],
            reply_to=settings.get("reply_to") or "",
            headers={"X-Superflow-Test": "yes"},
            attachments=attachments,
        )
        message_id = deliver_test(services.email, message, scope)
        return f"Test email sent to {address}" + (f" (id {message_id})" if message_id else "")

    def _message(self, ctx: StepContext, attachments: list[dict[str, Any]], body: str) -> EmailMessage:
        s, person = ctx.settings, ctx.person or {}
        config = ctx.services.config
        scope = ctx.merge_scope()
        subject, html, text = self._compose(
            s, body, lambda name, template, as_html: _rendered(name, template, scope, as_html)
        )
        base = config.base_url.rstrip("/")
        pid, step_id, person_id = ctx.participant.id, ctx.step["id"], ctx.participant.person_id
        if s["tracking"]:
            html = add_tracking(html, base, config.secret_key, pid, step_id, person_id)
        token = unsubscribe_token(config.secret_key, pid, step_id, person_id, s["subscription"] or "")
        unsubscribe = unsubscribe_url(base, token)
        html = html.replace(UNTRACKED, "").replace(UNSUBSCRIBE, escape(unsubscribe))
        text = text.replace(UNTRACKED, "").replace(UNSUBSCRIBE, unsubscribe)
        return EmailMessage(
            to=person["email"].strip(),
            subject=subject,
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
            attachments=attachments,
        )


class AttachmentMissing(Exception):
    """An attachment's file is not in the attachments folder (any more)."""


class AttachmentTooLarge(Exception):
    """An attachment (or all together) is over the limit."""


def load_attachments(items: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """Read the step's attachments once for a whole batch."""
    problems = attachment_problems(items, folder, check_missing=False)
    if problems:
        raise AttachmentTooLarge("; ".join(problems))
    loaded = []
    for item in items:
        file = folder / PurePosixPath(item["path"])
        try:
            data = file.read_bytes()
        except OSError:
            raise AttachmentMissing(
                f"attachment {item['name']}: there is no file {item['path']!r} in {folder}"
            ) from None
        content_type = mimetypes.guess_type(item["name"])[0] or mimetypes.guess_type(file.name)[0]
        loaded.append(
            {
                "name": item["name"],
                "content_type": content_type or "application/octet-stream",
                "data": data,
                "size": len(data),
            }
        )
    return loaded


class SmtpTransport(EmailTransport):
    """An SMTP server (``SUPERFLOW_SMTP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``;
    ``_STARTTLS`` to upgrade a plain connection, ``_SSL`` for implicit TLS,
    ``_CAFILE`` to trust a private certificate authority, ``_TIMEOUT``).

    The connection is kept from message to message and from batch to batch (checked
    with NOOP after ten idle seconds, opened again when the server closed it).  What
    ``send_many`` reports:

    - a message id for each message the server accepted;
    - a :class:`PermanentFailure` in its place for a message the server refused
      with a 5xx: to ``RCPT TO`` (``address_refused``: the address is bad), to
      ``MAIL FROM`` or to the message's data; and for an international address
      (``bjørn@…``) when the server does not offer SMTPUTF8;
    - a :class:`~superflow.channels.MaybeSent` in its place when the connection was
      lost after the whole message went out but before the server's reply: the
      server may have queued it, so it is taken as sent (never sent twice);
    - :class:`~superflow.channels.TemporaryFailure` for a 4xx to one message: that
      message is retried later, the others go on;
    - :class:`~superflow.channels.ChannelError` when the server cannot be reached or
      the connection is lost before the message's data: the rest waits for a retry.

    SMTP cannot look a message up afterwards, so ``idempotent`` is false: the message
    ledger claims each message right before it is handed over and records it right
    after.  A worker killed in between leaves that one message in doubt; SMTP's rule
    (``in_doubt = "resend"``) sends it again and says so in the history.
    """

    name = "smtp"
    label = "SMTP server"
    idempotent = False
    in_doubt = "resend"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._smtp: _TrackedSMTP | None = None
        self._siblings: list[SmtpTransport] = []

    def lanes(self) -> list[EmailTransport]:
        """This connection and ``SUPERFLOW_SMTP_CONNECTIONS`` − 1 more, kept like it
        across batches: a batch's emails go out over all of them at once."""
        wanted = max(1, self.config.smtp_connections) - 1
        while len(self._siblings) < wanted:
            self._siblings.append(type(self)(self.config))
        return [self, *self._siblings[:wanted]]

    def send_many(self, messages: list[tuple[EmailMessage, str]]) -> list[Any]:
        results: list[Any] = []
        for message, key in messages:
            try:
                results.append(self._send_kept(message, key))
            except smtplib.SMTPResponseException as exc:
                self._drop()
                if 400 <= exc.smtp_code < 500:
                    raise TemporaryFailure(self._failed(exc)) from exc
                raise ChannelError(self._failed(exc), sent=results) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                self._drop()
                raise TemporaryFailure(self._failed(exc)) from exc
            except (OSError, smtplib.SMTPException) as exc:
                data_sent = self._smtp is not None and self._smtp.data_sent
                self._drop()
                if not data_sent:
                    raise ChannelError(self._failed(exc), sent=results) from exc
                results.append(
                    MaybeSent(
                        "the connection to the SMTP server was lost after the whole email went out"
                        f" ({_describe(exc)})"
                    )
                )
        return results

    def _failed(self, exc: BaseException) -> str:
        return f"SMTP {self.config.smtp_host}:{self.config.smtp_port}: {_describe(exc)}"

    def _send_kept(self, message: EmailMessage, key: str) -> Any:
        """Send on the connection kept from the last message (checked with NOOP when
        it sat idle), reconnecting once when the server closed it meanwhile."""
        smtp = self._smtp
        if smtp is not None and time.monotonic() - smtp.used > 10:
            try:
                smtp.noop()
            except (OSError, smtplib.SMTPException):
                self._drop()
                smtp = None
        if smtp is None:
            try:
                smtp = self._smtp = self._connect()
            except (OSError, smtplib.SMTPException) as exc:
                raise ChannelError(self._failed(exc)) from exc
        smtp.data_sent = False
        result = self._send_one(smtp, message, key)
        smtp.used = time.monotonic()
        return result

    def probe(self) -> bool:
        """The server takes connections again (and the login, if any)."""
        try:
            self._connect().quit()
        except (OSError, smtplib.SMTPException):
            return False
        return True

    def close(self) -> None:
        for sibling in self._siblings:
            sibling.close()
        self._drop()

    def _drop(self) -> None:
        """Close this lane's connection (a failed one), not the other lanes'."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> _TrackedSMTP:
        c = self.config
        context = ssl.create_default_context(cafile=c.smtp_cafile or None)
        if c.smtp_ssl:
            smtp: _TrackedSMTP = _TrackedSMTPSSL(
                c.smtp_host, c.smtp_port, timeout=c.smtp_timeout, context=context
            )
        else:
            smtp = _TrackedSMTP(c.smtp_host, c.smtp_port, timeout=c.smtp_timeout)
        try:
            if c.smtp_starttls and not c.smtp_ssl:
                smtp.starttls(context=context)
            if c.smtp_user:
                smtp.login(c.smtp_user, c.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send_one(self, smtp: smtplib.SMTP, message: EmailMessage, key: str) -> Any:
        msg_id = smtp_message.message_id(message, key)
        international = smtp_message.is_international(message)
        try:
            if international:
                mime = smtp_message.international(message, msg_id)
            else:
                data = smtp_message.wire_bytes(message, msg_id)
        except (ValueError, TypeError) as exc:
            return PermanentFailure(f"the message cannot be written: {exc}")
        try:
            if international:
                smtp.send_message(mime, from_addr=message.from_address, to_addrs=[message.to])
            else:
                smtp.sendmail(message.from_address, [message.to], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            if 500 <= code < 600:
                return PermanentFailure(f"{code} {_text(reply)}", address_refused=True)
            raise
        except smtplib.SMTPNotSupportedError as exc:
            return PermanentFailure(f"the SMTP server cannot take this address: {exc}")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if 500 <= exc.smtp_code < 600:
                return PermanentFailure(f"{exc.smtp_code} {_text(exc.smtp_error)}")
            raise
        return msg_id


def _field_label(name: str) -> str:
    """A setting of the send email step as the marketer sees it ("Subject")."""
    declared = SendEmailSettings._declared_fields.get(name)
    return (declared.metadata.get("label") if declared is not None else None) or name


def _rendered(name: str, template: str, scope: dict[str, Any], html: bool) -> str:
    """``template`` filled in; a :class:`MergeError` names the setting it came from."""
    try:
        return render(template, scope, html=html)
    except MergeError as exc:
        raise type(exc)(f"{_field_label(name)}: {exc}") from None


class _TrackedSMTP(smtplib.SMTP):
    """An SMTP client that knows whether the current message's data went out in
    full: a connection lost after that is *in doubt* (the server may have queued it),
    one lost before it certainly did not deliver."""

    data_sent = False
    used = 0.0

    def send(self, s: bytes | str) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.data_sent = True


class _TrackedSMTPSSL(_TrackedSMTP, smtplib.SMTP_SSL):
    pass


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return f"{code} {_text(reply)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


# -- opens and clicks -----------------------------------------------------------


class EmailActionSettings(Schema):
    action = fields.String(
        load_default="email.opened",
        validate=validate.OneOf(tuple(EMAIL_ACTIONS)),
        metadata={"label": "The person"},
    )
    step = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "Email of step",
            "help": "Empty: any email of this flow",
            "widget": "flow_step",
            "x-step-sends": "email",
            "x-empty-label": "Any email of this flow",
        },
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

    def warnings(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return untracked_warnings(settings, flow)

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
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

    def warnings(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return untracked_warnings(settings, flow)

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        return _did(participant, settings)


def url_matches(pattern: str | None, url: str | None) -> bool:
    """Empty matches every link; ``https://shop.example/*`` every link that starts so;
    otherwise the address must be the same (a trailing ``/`` aside)."""
    if not pattern:
        return True
    if not url:
        return False
    if pattern.endswith("*"):
        return url.startswith(pattern[:-1])
    return url.rstrip("/") == pattern.rstrip("/")


def flow_of(event: Any) -> str:
    """The flow whose email an open or click came from (participant ids are
    ``<flow id>.<n>``)."""
    if event.data.get("flow_id"):
        return str(event.data["flow_id"])
    return str(event.data.get("participant_id") or "").rpartition(".")[0]


class OpenedSettings(Schema):
    flow = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Email of flow", "help": "The flow's id; empty: an email of any flow"},
    )
    step = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Email step", "help": "The send email step's id in that flow; empty: any"},
    )


class ClickedSettings(OpenedSettings):
    url = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Link", "help": "Empty: any link; ending in * matches every address starting so"},
    )


class _TrackedTrigger(Trigger):
    category = "Messages"
    what = ""

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        if settings.get("step") and not settings.get("flow"):
            return [f"flow: choose the flow whose step {settings['step']!r} is meant"]
        return []

    def warnings(self, settings: dict[str, Any], flow: Any) -> list[str]:
        if flow.id and str(settings.get("flow") or "") == str(flow.id):
            return [
                "flow: this flow starts when someone acts on an email this same flow sends;"
                " only people already in it can do that, so it enrols nobody new"
            ]
        return []

    def describe(self, settings: dict[str, Any]) -> str:
        words = f"When the person {self.what}"
        if settings.get("url"):
            words += f" {settings['url']}"
        if settings.get("step"):
            words += f" in the email of step {settings['step']}"
        if settings.get("flow"):
            words += f" of flow {settings['flow']}"
        return words

    def sample_event(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The email acted on (its flow and step) and, for a click, the link."""
        data = {"flow_id": str(settings.get("flow") or "1"), "step_id": settings.get("step") or "email-1"}
        if "link.clicked" in self.event_types:
            data["url"] = (settings.get("url") or "https://example.com/offer").rstrip("*")
        return data

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        if settings.get("flow") and flow_of(event) != str(settings["flow"]):
            return False
        if settings.get("step") and event.data.get("step_id") != settings["step"]:
            return False
        return url_matches(settings.get("url"), event.data.get("url"))


class EmailOpened(_TrackedTrigger):
    name = "email_opened"
    label = "Email opened"
    description = "When the person opens an email (of a flow, of one of its steps)."
    what = "opens an email"
    event_types = ("email.opened",)
    settings_schema = OpenedSettings


class LinkClicked(_TrackedTrigger):
    name = "link_clicked"
    label = "Link clicked"
    description = "When the person clicks a link (any, or one address) in an email."
    what = "clicks a link"
    event_types = ("link.clicked",)
    settings_schema = ClickedSettings


class LinkClickedSettings(Schema):
    step = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "In the email of step",
            "help": "Empty: any email of this flow",
            "widget": "flow_step",
            "x-step-sends": "email",
            "x-empty-label": "Any email of this flow",
        },
    )
    url = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Link", "help": "Empty: any link; ending in * matches every address starting so"},
    )


class LinkClickedCriterion(SuccessCriterion):
    name = "link_clicked"
    label = "Clicked a link"
    category = "Messages"
    description = "The person clicked a link (any, or one address) in an email of this flow."
    event_types = ("link.clicked",)
    settings_schema = LinkClickedSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        step = settings.get("step")
        if step and step not in flow.steps:
            return [f"step: there is no step {step!r} in this flow"]
        return []

    def describe(self, settings: dict[str, Any]) -> str:
        link = settings.get("url") or "a link"
        where = f" in the email of step {settings['step']}" if settings.get("step") else ""
        return f"When the person clicks {link}{where}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        if event.data.get("participant_id") != participant.id:
            return False
        if settings.get("step") and event.data.get("step_id") != settings["step"]:
            return False
        return url_matches(settings.get("url"), event.data.get("url"))


@hookimpl
def superflow_register_step_types(register):
    register(SendEmail())


@hookimpl
def superflow_register_email_transports(register):
    register(SmtpTransport)


@hookimpl
def superflow_register_triggers(register):
    register(EmailOpened())
    register(LinkClicked())


@hookimpl
def superflow_register_success_criteria(register):
    register(EmailActionCriterion())
    register(LinkClickedCriterion())


@hookimpl
def superflow_register_filters(register):
    register(DidEmailAction())


#: The designer's email editors (the block editor, the ``html`` body with its toolbar,
#: the plain-text part made from it, and the channel's preview), served from this
#: plugin's own static folder.
designer_assets = Blueprint(
    "email_designer",
    __name__,
    static_folder=str(Path(__file__).parent / "static"),
    static_url_path="/plugins/email/static",
)


@hookimpl
def superflow_register_routes(register):
    register(designer_assets)


@hookimpl
def superflow_register_designer_scripts(register):
    register("/plugins/email/static/email.js", module=True)
