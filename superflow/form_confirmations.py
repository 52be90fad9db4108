"""Confirmations of hosted-form answers: the pending answer, its link and its email.

A post to a hosted form proves nothing about who sent it, so what it would change
about a person the CRM already has — and every consent and subscription it gives —
waits here until the owner of the address opens the emailed link and presses its
button (double opt-in).  The link is ``/forms/<form id>/confirm/<token>``; the
token is a random nonce and an HMAC of it made with the secret key, so a link cannot
be made up, and the nonce names the pending answer in Redis, so it can be used once.

Keys (owned here):

- ``sf:form-confirm:<nonce>`` (hash): ``form_id``, ``expires_at`` (engine time),
  ``data`` (the answer, JSON; removed once confirmed) and ``confirmed_at``.  It
  expires an hour after the link does (``SUPERFLOW_FORM_CONFIRM_HOURS``, default 48).
- The emails to one address are limited (``SUPERFLOW_FORM_CONFIRM_PER_HOUR``,
  default 3) with :class:`~superflow.ratelimit.RateLimiter` under the name
  ``form-confirm:<hash of the address>`` (its key ``sf:rate:form-confirm:...``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import redis

from superflow import keys
from superflow.channels import EmailMessage
from superflow.ratelimit import RateLimiter

TOKEN = re.compile(r"^([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{22})$")
DEFAULT_FROM = "superflow@localhost"
WINDOW = 3600
EXPIRED = "confirmation links work for a limited time and this one has run out"

# Claim a pending answer for confirming: 1 when this call claimed it, 0 when it was
# confirmed before, -1 when it is gone (expired).
CLAIM_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'confirmed_at', ARGV[1])
"""


class LinkInvalid(ValueError):
    """A confirmation link that cannot be used: ``status`` 400 (made up or changed) or
    410 (expired); ``cause`` says so in the visitor's words."""

    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status = status
        self.cause = cause


@dataclass
class Pending:
    """A submitted answer waiting for its confirmation.

    ``changes`` are the CRM fields to write on an existing person (empty for a person
    the submission created); ``emit`` says whether ``form.submitted`` waits for the
    confirmation (it fired at once when nothing did)."""

    form_id: str
    person_id: str
    created: bool
    fields: dict[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)
    consents: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    selection: str | None = None
    project: str | None = None
    emit: bool = True
    token: str = ""
    expires_at: float = 0.0
    confirmed_at: float | None = None

    def _data(self) -> str:
        return json.dumps(
            {
                "person_id": self.person_id,
                "created": self.created,
                "fields": self.fields,
                "changes": self.changes,
                "consents": self.consents,
                "subscriptions": self.subscriptions,
                "selection": self.selection,
                "project": self.project,
                "emit": self.emit,
            }
        )


def _signature(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"form-confirm:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _nonce(secret: str, token: str) -> str:
    match = TOKEN.match(token)
    if not match or not hmac.compare_digest(match.group(2), _signature(secret, match.group(1))):
        raise LinkInvalid(400, "this confirmation link is not complete or was changed")
    return match.group(1)


def store(conn: redis.Redis, secret: str, pending: Pending, hours: float, now: float) -> str:
    """Keep the answer until the link expires; returns the link's token."""
    nonce = secrets.token_urlsafe(18)
    token = f"{nonce}.{_signature(secret, nonce)}"
    expires_at = now + hours * 3600
    pipe = conn.pipeline()
    pipe.hset(
        keys.form_confirmation(nonce),
        mapping={"form_id": pending.form_id, "expires_at": repr(expires_at), "data": pending._data()},
    )
    pipe.expire(keys.form_confirmation(nonce), int(hours * 3600) + WINDOW)
    pipe.execute()
    pending.token, pending.expires_at = token, expires_at
    return token


def forget(conn: redis.Redis, token: str) -> None:
    """Drop a pending answer whose email could not be sent."""
    conn.delete(keys.form_confirmation(token.split(".", 1)[0]))


def open_link(conn: redis.Redis, secret: str, form_id: str, token: str, now: float) -> Pending:
    """The answer behind a link (``confirmed_at`` set when it was confirmed before), or
    :class:`LinkInvalid`."""
    nonce = _nonce(secret, token)
    found = conn.hgetall(keys.form_confirmation(nonce))
    if not found:
        raise LinkInvalid(410, EXPIRED)
    if found.get("form_id") != form_id:
        raise LinkInvalid(400, "this confirmation link belongs to another form")
    confirmed_at = float(found["confirmed_at"]) if found.get("confirmed_at") else None
    if confirmed_at is None and (float(found["expires_at"]) < now or "data" not in found):
        raise LinkInvalid(410, EXPIRED)
    data = json.loads(found.get("data") or "{}")
    return Pending(
        form_id=form_id,
        person_id=str(data.get("person_id") or ""),
        created=bool(data.get("created")),
        fields=data.get("fields") or {},
        changes=data.get("changes") or {},
        consents=data.get("consents") or [],
        subscriptions=data.get("subscriptions") or [],
        selection=data.get("selection"),
        project=data.get("project"),
        emit=bool(data.get("emit", True)),
        token=token,
        expires_at=float(found["expires_at"]),
        confirmed_at=confirmed_at,
    )


def claim(conn: redis.Redis, token: str, now: float) -> bool:
    """Mark the answer confirmed; False when another request did so first (single use)."""
    script = conn.register_script(CLAIM_SCRIPT)
    claimed = int(script(keys=[keys.form_confirmation(token.split(".", 1)[0])], args=[repr(now)]))
    if claimed < 0:
        raise LinkInvalid(410, EXPIRED)
    return claimed == 1


def release(conn: redis.Redis, token: str) -> None:
    """Undo :func:`claim` when the answer could not be applied, so the link works again."""
    conn.hdel(keys.form_confirmation(token.split(".", 1)[0]), "confirmed_at")


def applied(conn: redis.Redis, token: str) -> None:
    """Forget the answer's values once they are in the CRM; the key stays until it
    expires so that a second use says "already confirmed"."""
    conn.hdel(keys.form_confirmation(token.split(".", 1)[0]), "data")


def may_send(conn: redis.Redis, address: str, per_hour: int, now: float) -> bool:
    """Count one confirmation email to ``address``; False when it had its share this hour."""
    digest = hashlib.blake2b(address.strip().lower().encode(), digest_size=12).hexdigest()
    return RateLimiter(conn).hit(f"form-confirm:{digest}", per_hour, WINDOW, now=now).allowed


def message(form: Mapping[str, Any], to: str, link: str, hours: float, from_address: str) -> EmailMessage:
    """The confirmation email, in the visitor's words."""
    title = form.get("title") or form["name"]
    lifetime = f"{hours:g} hours" if hours != 1 else "1 hour"
    text = (
        f"Someone — we hope it was you — filled in “{title}” on our website with this email address.\n\n"
        f"To confirm your answer, open this link within {lifetime} and press Confirm:\n\n{link}\n\n"
        "If it was not you, ignore this email: nothing will change.\n"
    )
    body = (
        f"<p>Someone — we hope it was you — filled in “{html.escape(title)}” on our website with this "
        "email address.</p>"
        f"<p>To confirm your answer, open this link within {lifetime} and press Confirm:</p>"
        f'<p><a href="{html.escape(link)}">Confirm my answer</a></p>'
        "<p>If it was not you, ignore this email: nothing will change.</p>"
    )
    return EmailMessage(
        to=to,
        subject=f"Please confirm your answer to {title}",
        html=body,
        text=text,
        from_address=from_address or DEFAULT_FROM,
        from_name="",
        headers={"X-Superflow-Form": str(form["id"]), "Auto-Submitted": "auto-generated"},
    )
