"""One-time hand-off codes: how a provider sign-in made in a pop-up reaches a CRM's frame.

Inside a CRM the session cookie is partitioned (:mod:`superflow.webapp.embedding`): the
frame has a cookie jar of its own, and the pop-up in which the identity provider is
shown (providers refuse frames) has superflow's first-party one.  Signing in in the
pop-up therefore does not sign in the frame.  So the pop-up's sign-in also gives a
code, kept here for :data:`HANDOFF_SECONDS`, and hands it to the frame; the frame
posts it back and gets a session of its own.

A code alone is worth little: it is random (32 bytes), taken once (``GETDEL``), good
for a minute, and only accepted in a form post that carries the CSRF token of the
page that asks for it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import redis

from superflow import keys

HANDOFF_SECONDS = 60


@dataclass(frozen=True)
class Handoff:
    """Who signed in, and the page on this site the frame goes to next."""

    username: str
    next: str


def give(conn: redis.Redis, username: str, next_path: str) -> str:
    """A new code for ``username``'s sign-in, good once within :data:`HANDOFF_SECONDS`."""
    code = secrets.token_urlsafe(32)
    conn.set(
        keys.signin_handoff(code), json.dumps({"username": username, "next": next_path}), ex=HANDOFF_SECONDS
    )
    return code


def take(conn: redis.Redis, code: str) -> Handoff | None:
    """The sign-in of ``code`` and the code gone; ``None`` if it is unknown, expired or
    was taken already."""
    kept = conn.getdel(keys.signin_handoff(code))
    if kept is None:
        return None
    data = json.loads(kept)
    return Handoff(username=data["username"], next=data["next"])
