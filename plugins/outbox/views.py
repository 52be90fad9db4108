"""The admin's Outbox screen: what the outbox transports kept, newest first.

``GET /outbox`` (endpoint ``outbox.index``) lists the messages 50 to a page
(``?page=``), filtered by ``?channel=email|sms`` and by ``?q=`` (a part of the
recipient's address or number).  ``GET /outbox/<id>`` (``outbox.message``) shows one:
its headers, subject, HTML body (in a sandboxed frame: no scripts, no forms, and the
app's content security policy keeps remote images out), plain-text part and
attachments; for an SMS its text and size in SMS.  Both need a signed-in user.

Looking is not acting: the body is shown through
:func:`superflow.webapp.public.tracking.for_viewing`, so its tracked links lead straight to
their destinations and its open pixel is gone; a link clicked in the preview opens
in a tab of its own (the app's policy lets no other site into a frame).  Viewing a message or
following its links here never records an open or a click for the recipient, and
never moves them along a split.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template
from flask import request

from superflow import count_segments
from superflow import for_viewing
from superflow import login_required
from superflow import request_services

from . import Outbox

bp = Blueprint("outbox", __name__, url_prefix="/outbox", template_folder="templates")

PAGE_SIZE = 50
CHANNELS = {"email": "Email", "sms": "SMS"}
SUMMARY_WORDS = 12


def outbox() -> Outbox:
    """The app's outbox database (one per app; connections are per thread)."""
    found = current_app.extensions.get("superflow.outbox")
    if found is None:
        found = current_app.extensions["superflow.outbox"] = Outbox(request_services().config)
    return found


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def summary(message: dict[str, Any]) -> str:
    """The subject of an email, the first words of an SMS."""
    if message["channel"] != "sms":
        return message["subject"] or "(no subject)"
    words = message["text"].split()
    return " ".join(words[:SUMMARY_WORDS]) + (" …" if len(words) > SUMMARY_WORDS else "")


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


HEAD = re.compile(r"(?i)<head\b[^>]*>")


def _links_in_new_tabs(body: str) -> str:
    """The body with ``<base target="_blank">`` in its head, so that its links open in
    a new tab rather than inside the preview, where no other site may be shown."""
    base = '<base target="_blank">'
    head = HEAD.search(body)
    return body[: head.end()] + base + body[head.end() :] if head else base + body


@bp.get("")
@login_required
def index():
    channel = request.args.get("channel", "").strip().lower()
    if channel not in CHANNELS:
        channel = ""
    search = request.args.get("q", "").strip()
    box = outbox()
    total = box.count(channel or None, search)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(_page_number(request.args.get("page")), pages)
    rows = [
        {**m, "when": when(m["created"]), "summary": summary(m), "channel_label": CHANNELS.get(m["channel"])}
        for m in box.page(channel or None, search, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    ]
    config = request_services().config
    in_use = "outbox" in (config.email_transport, config.sms_provider)
    return render_template(
        "outbox/index.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        channel=channel,
        q=search,
        channels=CHANNELS,
        in_use=in_use,
        transports=config,
    )


@bp.get("/<int:message_id>")
@login_required
def message(message_id: int):
    found = outbox().get(message_id)
    if found is None:
        abort(404, description=f"There is no message {message_id} in the outbox.")
    details: dict[str, Any] = {
        **found,
        "when": when(found["created"]),
        "summary": summary(found),
        "channel_label": CHANNELS.get(found["channel"], found["channel"]),
    }
    if found["channel"] != "sms":
        secret = request_services().config.secret_key
        details["html"] = _links_in_new_tabs(for_viewing(found["html"], secret)) if found["html"] else ""
        details["text"] = for_viewing(found["text"], secret, as_html=False)
    if found["channel"] == "sms":
        details["segments"] = count_segments(found["text"])
    return render_template("outbox/message.html", m=details)
