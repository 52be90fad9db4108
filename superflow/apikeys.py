"""API keys: who may call the JSON API, and with which role.

A key is ``sf_`` followed by 40 random characters.  Only its SHA-256 is kept, under
``sf:apikey:<sha256>`` (a hash with name, role, created, rate limit, last use and the
key's first characters, for people to tell keys apart), and
``sf:apikeys`` maps each key's name to its hash.  The key itself is shown once, when
it is made; a lost key is revoked and a new one made.

Roles:

- ``admin``: everything the API offers;
- ``editor``: read everything; create, change, copy, import and delete flows — but
  not start, pause, resume or end them, enrol or move participants, or post events;
- ``viewer``: read only (flows, participants, reports, plugins);
- ``events``: post events, nothing else (for a website or a webinar tool).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from superflow import keys
from superflow.ratelimit import RateLimiter
from superflow.ratelimit import Verdict

PREFIX = "sf_"
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "write", "run", "events"}),
    "editor": frozenset({"read", "write"}),
    "viewer": frozenset({"read"}),
    "events": frozenset({"events"}),
}
"""Each role and the permissions it holds: ``read`` (GET anything), ``write`` (change
flows), ``run`` (start/pause/resume/end flows; enrol, remove and move participants)
and ``events`` (post events)."""

DEFAULT_LIMIT = 600
DEFAULT_WINDOW = 60
LAST_USED_EVERY = 60
SHOWN = 4
"""Characters of a key, after its prefix, that lists show (too few to guess the rest)."""
MAX_REMEMBERED = 10_000
"""Keys whose rate window a :class:`Gate` remembers before it starts afresh."""


class ApiKeyError(ValueError):
    """A key that cannot be made or found, with why."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the secret itself)."""

    id: str
    name: str
    role: str
    created: float
    limit: int
    window: int
    last_used: float | None = None
    shown: str = ""
    """The secret's first characters (``sf_`` and four more), so that a person can
    tell which key they hold; empty for keys made before it was kept."""

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created": self.created,
            "rate_limit": f"{self.limit}/{self.window}s",
            "last_used": self.last_used,
            "shown": self.shown,
        }


def key_id(digest: str) -> str:
    """The short id ``list`` shows and rate limits count under."""
    return digest[:12]


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    conn: redis.Redis, name: str, role: str, *, limit: int = DEFAULT_LIMIT, window: int = DEFAULT_WINDOW
) -> tuple[str, ApiKey]:
    """Make a key; return the secret (show it once) and its record."""
    name = name.strip()
    if not name:
        raise ApiKeyError("give the key a name (who or what uses it)")
    if role not in ROLES:
        raise ApiKeyError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    if limit < 1 or window < 1:
        raise ApiKeyError("the rate limit must be at least 1 request per at least 1 second")
    secret = PREFIX + secrets.token_urlsafe(30)
    digest = digest_of(secret)
    if not conn.hsetnx(keys.APIKEYS, name, digest):
        raise ApiKeyError(f"a key named {name!r} exists; revoke it first or choose another name")
    now = time.time()
    conn.hset(
        keys.apikey(digest),
        mapping={
            "name": name,
            "role": role,
            "created": now,
            "limit": limit,
            "window": window,
            "shown": secret[: len(PREFIX) + SHOWN],
        },
    )
    return secret, _record(digest, conn.hgetall(keys.apikey(digest)))


def authenticate(conn: redis.Redis, secret: str) -> ApiKey | None:
    """The key this secret belongs to, or ``None``.  Notes the time of use (at most
    once a minute per key, so that busy keys cost no extra write per request)."""
    if not _well_formed(secret):
        return None
    digest = digest_of(secret)
    return _found(conn, digest, conn.hgetall(keys.apikey(digest)), time.time())


class Gate:
    """Checks each API request's key and counts it against the key's rate limit: one
    Redis round trip per request.

    A key's rate window never changes once the key is made, so the gate remembers it
    per key: from a key's second request on, the lookup of its record and the count
    go to Redis in one pipeline.  The record itself is read on every request, so a
    revoked key is refused on its very next request, in every process."""

    def __init__(self, conn: redis.Redis, limiter: RateLimiter | None = None) -> None:
        self.conn = conn
        self.limiter = limiter or RateLimiter(conn)
        self._windows: dict[str, int] = {}

    def check(self, secret: str, now: float | None = None) -> tuple[ApiKey | None, Verdict | None]:
        """``(key, verdict)`` with the request counted, or ``(None, None)`` for a
        secret that is no key (nothing is counted then)."""
        if not _well_formed(secret):
            return None, None
        now = time.time() if now is None else now
        digest = digest_of(secret)
        window = self._windows.get(digest)
        if window is None:
            key = _found(self.conn, digest, self.conn.hgetall(keys.apikey(digest)), now)
            if key is None:
                return None, None
            if len(self._windows) >= MAX_REMEMBERED:
                self._windows.clear()
            self._windows[digest] = key.window
            return key, self.limiter.hit(key.id, key.limit, key.window, now)
        pipe = self.conn.pipeline(transaction=False)
        pipe.hgetall(keys.apikey(digest))
        self.limiter.count(pipe, key_id(digest), window, now)
        replies = pipe.execute()
        key = _found(self.conn, digest, replies[0], now)
        if key is None:
            self._windows.pop(digest, None)
            return None, None
        return key, self.limiter.verdict(replies, key.limit, window, now)


def _well_formed(secret: str) -> bool:
    return secret.startswith(PREFIX) and len(secret) <= 200


def _found(conn: redis.Redis, digest: str, raw: dict[str, str], now: float) -> ApiKey | None:
    """The key from its record as read (``None`` if there is none); notes its use."""
    if not raw or "role" not in raw:
        return None
    if now - float(raw.get("last_used") or 0) > LAST_USED_EVERY:
        conn.hset(keys.apikey(digest), "last_used", now)
    return _record(digest, raw)


def list_keys(conn: redis.Redis) -> list[ApiKey]:
    names = conn.hgetall(keys.APIKEYS)
    pipe = conn.pipeline(transaction=False)
    for digest in names.values():
        pipe.hgetall(keys.apikey(digest))
    found = [_record(d, raw) for d, raw in zip(names.values(), pipe.execute(), strict=True) if raw]
    return sorted(found, key=lambda k: k.created)


def revoke(conn: redis.Redis, which: str) -> ApiKey:
    """Revoke by name or id (the first characters of its hash that ``list`` shows)."""
    for key in list_keys(conn):
        if which in (key.name, key.id):
            digest = conn.hget(keys.APIKEYS, key.name)
            pipe = conn.pipeline()
            pipe.hdel(keys.APIKEYS, key.name)
            pipe.delete(keys.apikey(digest))
            pipe.execute()
            return key
    raise ApiKeyError(f"no API key named or with id {which!r}")


def _record(digest: str, raw: dict[str, str]) -> ApiKey:
    return ApiKey(
        id=key_id(digest),
        name=raw.get("name", ""),
        role=raw.get("role", ""),
        created=float(raw.get("created") or 0),
        limit=int(raw.get("limit") or DEFAULT_LIMIT),
        window=int(raw.get("window") or DEFAULT_WINDOW),
        last_used=float(raw["last_used"]) if raw.get("last_used") else None,
        shown=raw.get("shown", ""),
    )
