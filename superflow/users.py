"""People who sign in to the admin screens, with hashed passwords and a role.

Roles follow SuperOffice's functional rights for flows: a *flow administrator*
creates, starts, pauses, ends and deletes flows and manages participants; a user who
*can edit flow content* edits the emails and texts of flows but does not run them;
a *viewer* only looks.  The JSON API has keys of its own (``superflow.apikeys``).
"""

from __future__ import annotations

import re
import time
from typing import Any

import redis
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = {
    "flow_admin": "Flow administrator: create, run, pause, end and delete flows; manage participants",
    "content_editor": "Can edit flow content: the emails and texts of flows, not running them",
    "viewer": "Viewer: sees flows, reports and participants",
}
USERS = "sf:users"
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,80}$")
MIN_PASSWORD = 10


class UserError(ValueError):
    """A user request that cannot be carried out; the message says why."""


def user_key(username: str) -> str:
    return f"sf:user:{username.lower()}"


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
    if not conn.hsetnx(user_key(username), "username", username):
        raise UserError(f"there is already a user {username!r}")
    conn.hset(user_key(username), mapping=record)
    conn.sadd(USERS, username.lower())
    return public(record)


def get(conn: redis.Redis, username: str) -> dict[str, Any] | None:
    record = conn.hgetall(user_key(username))
    return public(record) if record else None


def list_users(conn: redis.Redis) -> list[dict[str, Any]]:
    names = sorted(conn.smembers(USERS))
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(user_key(name))
    return [public(record) for record in pipe.execute() if record]


def set_role(conn: redis.Redis, username: str, role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if not conn.exists(user_key(username)):
        raise UserError(f"there is no user {username!r}")
    conn.hset(user_key(username), "role", role)


def verify(conn: redis.Redis, username: str, password: str) -> dict[str, Any] | None:
    """The user, if the password is theirs; ``None`` otherwise (without saying which
    of the two was wrong)."""
    record = conn.hgetall(user_key(username)) if NAME.match(username or "") else {}
    if not record:
        check_password_hash(generate_password_hash("timing"), password or "")
        return None
    return public(record) if check_password_hash(record["password"], password or "") else None


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "password"}
