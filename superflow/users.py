"""People who sign in to the admin screens, with hashed passwords and a role.

Roles follow SuperOffice's functional rights for flows: a *flow administrator*
creates, starts, pauses, ends and deletes flows and manages participants; a user who
*can edit flow content* edits the emails and texts of flows but does not run them;
a *viewer* only looks.  The JSON API has keys of its own (``superflow.apikeys``).

A user can be *disabled* (kept, but unable to sign in) or deleted.  A new password, a
new role, disabling and deleting end every session of the user
(:mod:`superflow.sessions`).  Disabling or deleting the last active flow
administrator is refused, so someone can always manage users in the admin.
"""

from __future__ import annotations

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
    _change(conn, username, {"role": role}, keep_an_admin=False)


def set_password(conn: redis.Redis, username: str, password: str) -> None:
    """Give the user a new password; every session they have ends."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
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
    right = check_password_hash(record["password"], password or "")
    return public(record) if right and active(record) else None


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "password"}
