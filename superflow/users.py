"""People who sign in to the admin screens, with hashed passwords and a role.

Roles follow SuperOffice's functional rights for flows: a *flow administrator*
creates, starts, pauses, ends and deletes flows and manages participants; a user who
*can edit flow content* edits the emails and texts of flows but does not run them;
a *viewer* only looks.  The JSON API has keys of its own (``superflow.apikeys``).

People can also sign in through an auth provider (:mod:`superflow.auth_providers`): such a
user is kept under ``<provider>:<digest of the provider's subject>``, a name no password user
can have, so a provider's account never takes over a local one of the same name.  They have
no password; their role comes from the provider at every sign-in, with the reason for it.

A user can be *disabled* (kept, but unable to sign in) or deleted.  A new password, a
new role, disabling and deleting end every session of the user
(:mod:`superflow.sessions`).  Disabling or deleting the last active flow
administrator is refused, so someone can always manage users in the admin.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import redis
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from superflow import keys
from superflow import sessions

ROLES = {
    "flow_admin": "Flow administrator: create, run, pause, end and delete flows; manage participants",
    "content_editor": "Can edit flow content: the emails and texts of flows, not running them",
    "viewer": "Viewer: sees flows, reports and participants",
}
ROLE_NAMES = {"flow_admin": "Flow administrator", "content_editor": "Content editor", "viewer": "Viewer"}
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,80}$")
MIN_PASSWORD = 10


class UserError(ValueError):
    """A user request that cannot be carried out; the message says why."""


class UserDisabled(UserError):
    """The user signing in through a provider was disabled here."""


def provider_user_name(provider: str, subject: str) -> str:
    """The user name of the provider's ``subject``: ``<provider>:`` and a digest, so that no
    two subjects (nor a subject and a local name) can meet."""
    return f"{provider.lower()}:{hashlib.sha256(subject.encode('utf-8')).hexdigest()[:32]}"


def from_provider(user: dict[str, Any]) -> bool:
    """Whether the user signs in through a provider (and has no password)."""
    return bool(user.get("provider"))


def signed_in_by_provider(
    conn: redis.Redis,
    provider: str,
    provider_label: str,
    subject: str,
    *,
    name: str,
    email: str,
    role: str,
    reason: str,
) -> dict[str, Any]:
    """Record a sign-in through ``provider``: the user is made on first sign-in; at every
    sign-in their name, email, role and its reason are what the provider says now, and when
    the role changes their other sessions end.  :class:`UserDisabled` if they were disabled
    here (whatever the provider says)."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    username = provider_user_name(provider, subject)
    key = keys.user(username)
    now = time.time()

    def apply(pipe: redis.client.Pipeline) -> dict[str, Any]:
        record = pipe.hgetall(key)
        if record and not active(record):
            raise UserDisabled(f"{name or email or subject} was disabled in superflow")
        fields = {
            "username": username,
            "provider": provider,
            "provider_label": provider_label,
            "subject": subject,
            "name": name,
            "email": email,
            "role": role,
            "role_reason": reason,
            "last_signin": str(now),
        }
        pipe.multi()
        if not record:
            fields["created"] = str(now)
        pipe.hset(key, mapping=fields)
        pipe.sadd(keys.USERS, username)
        if record and record.get("role") != role:
            sessions.end_all(pipe, username)
        return public({**record, **fields})

    return conn.transaction(apply, key, value_from_callable=True)


def role_name(role: str) -> str:
    """A role as the admin names it ("Content editor"), for every message a person reads."""
    return ROLE_NAMES.get(role, role.replace("_", " ").capitalize())


def create(conn: redis.Redis, username: str, password: str, role: str) -> dict[str, Any]:
    """Add a user; the password is stored only as a salted hash."""
    if not NAME.match(username):
        raise UserError("a user name is 1–80 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    record = {
        "username": username,
        "role": role,
        "created": time.time(),
        "password": generate_password_hash(password),
    }
    if not conn.hsetnx(keys.user(username), "username", username):
        raise UserError(f"there is already a user {username!r}")
    conn.hset(keys.user(username), mapping=record)
    conn.sadd(keys.USERS, username.lower())
    return public(record)


def get(conn: redis.Redis, username: str) -> dict[str, Any] | None:
    record = conn.hgetall(keys.user(username))
    return public(record) if record else None


def list_users(conn: redis.Redis) -> list[dict[str, Any]]:
    names = sorted(conn.smembers(keys.USERS))
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.user(name))
    return [public(record) for record in pipe.execute() if record]


def set_role(conn: redis.Redis, username: str, role: str) -> None:
    """Give the user another role; their sessions end, so it applies at once.  (A
    demoted last administrator is put back with ``superflow users set-role``.)"""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    _refuse_for_provider_user(conn, username, "role")
    _change(conn, username, {"role": role}, keep_an_admin=False)


def set_password(conn: redis.Redis, username: str, password: str) -> None:
    """Give the user a new password; every session they have ends."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    _refuse_for_provider_user(conn, username, "password")
    _change(conn, username, {"password": generate_password_hash(password)}, keep_an_admin=False)


def disable(conn: redis.Redis, username: str) -> None:
    """Keep the user but let them no longer sign in; their sessions end at once."""
    _change(conn, username, {"disabled": "1"}, keep_an_admin=True)


def enable(conn: redis.Redis, username: str) -> None:
    """Let a disabled user sign in again."""
    _change(conn, username, {"disabled": ""}, keep_an_admin=False)


def delete(conn: redis.Redis, username: str) -> None:
    """Remove the user; their sessions end at once."""
    _change(conn, username, None, keep_an_admin=True)


def _refuse_for_provider_user(conn: redis.Redis, username: str, what: str) -> None:
    record = conn.hgetall(keys.user(username))
    if record and from_provider(record):
        who = record.get("name") or record.get("email") or username
        if what == "role":
            raise UserError(
                f"the role of {who} comes from {record.get('provider_label')} ({record.get('role_reason')});"
                " change it there: it applies at their next sign-in"
            )
        raise UserError(f"{who} signs in with {record.get('provider_label')} and has no password here")


def active(user: dict[str, Any]) -> bool:
    return not user.get("disabled")


def _change(conn: redis.Redis, username: str, fields: dict[str, str] | None, keep_an_admin: bool) -> None:
    """Write ``fields`` to the user (``None``: delete them) and end their sessions, in
    one transaction that fails if users changed meanwhile — so two administrators
    disabling each other at once cannot leave none."""
    key = keys.user(username)

    def apply(pipe: redis.client.Pipeline) -> None:
        record = pipe.hgetall(key)
        if not record:
            raise UserError(f"there is no user {username!r}")
        unchanged = fields is not None and all(record.get(k, "") == v for k, v in fields.items())
        if not unchanged and keep_an_admin and _active_admin(record) and _last_active_admin(pipe, username):
            raise UserError(
                f"{record['username']} is the last active flow administrator:"
                " make another user a flow administrator first"
            )
        pipe.multi()
        if unchanged:
            return
        if fields is None:
            pipe.delete(key)
            pipe.srem(keys.USERS, username.lower())
        else:
            pipe.hset(key, mapping=fields)
        sessions.end_all(pipe, username)

    conn.transaction(apply, keys.USERS, *(keys.user(n) for n in conn.smembers(keys.USERS)))


def is_last_active_admin(conn: redis.Redis, username: str) -> bool:
    """Whether disabling, deleting or demoting ``username`` would leave no one to run
    flows and manage users."""
    return _active_admin(conn.hgetall(keys.user(username))) and _last_active_admin(conn, username)


def _last_active_admin(conn: redis.Redis | redis.client.Pipeline, username: str) -> bool:
    others = [n for n in conn.smembers(keys.USERS) if n != username.lower()]
    return not any(_active_admin(conn.hgetall(keys.user(n))) for n in others)


def _active_admin(record: dict[str, Any]) -> bool:
    return bool(record) and record.get("role") == "flow_admin" and active(record)


def verify(conn: redis.Redis, username: str, password: str) -> dict[str, Any] | None:
    """The user, if the password is theirs and they are not disabled; ``None``
    otherwise (without saying which of these was wrong)."""
    record = conn.hgetall(keys.user(username)) if NAME.match(username or "") else {}
    if not record:
        check_password_hash(generate_password_hash("timing"), password or "")
        return None
    right = check_password_hash(record.get("password", ""), password or "") if "password" in record else False
    return public(record) if right and active(record) else None


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "password"}
