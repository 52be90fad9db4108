"""Which admin sign-ins are still good: the server's side of the session cookie.

The cookie is signed, so nobody can forge one, but a signed cookie alone stays valid
for as long as it has not expired — after sign-out too, for whoever copied it.  So
every sign-in gets a random session id, kept in ``sf:sessions:<name>`` (a sorted set:
session id → when it was last used) and carried in the cookie; a request whose id is
not in the set is not signed in.  Signing out removes one id; a password or role
change, disabling or deleting the user removes them all.

``last used`` is written at most once per :data:`TOUCH_SECONDS`, so most requests
cost one read.  An id unused for the session lifetime is stale, as its cookie is.
"""

from __future__ import annotations

import secrets
import time

import redis

from superflow import keys

TOUCH_SECONDS = 60


def begin(conn: redis.Redis, username: str, lifetime: int) -> str:
    """A new session for ``username``; returns its id (for the cookie)."""
    now = time.time()
    sid = secrets.token_urlsafe(24)
    key = keys.sessions(username)
    pipe = conn.pipeline()
    pipe.zremrangebyscore(key, "-inf", now - lifetime)
    pipe.zadd(key, {sid: now})
    pipe.expire(key, lifetime)
    pipe.execute()
    return sid


def alive(conn: redis.Redis, username: str, sid: str, lifetime: int) -> bool:
    """Whether the session is still good; notes that it was used."""
    if not sid:
        return False
    key = keys.sessions(username)
    now = time.time()
    last = conn.zscore(key, sid)
    if last is None or last < now - lifetime:
        return False
    if last < now - TOUCH_SECONDS:
        pipe = conn.pipeline()
        pipe.zadd(key, {sid: now}, xx=True)
        pipe.expire(key, lifetime)
        pipe.execute()
    return True


def end(conn: redis.Redis, username: str, sid: str) -> None:
    """End one session (signing out)."""
    conn.zrem(keys.sessions(username), sid)


def end_all(conn: redis.Redis | redis.client.Pipeline, username: str) -> None:
    """End every session of the user (a new password or role, disabled, deleted)."""
    conn.delete(keys.sessions(username))
