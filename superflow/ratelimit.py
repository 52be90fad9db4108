"""Rate limits: a fixed window per API key, counted in Redis.

Each key may make ``limit`` requests per ``window`` seconds.  The count lives under
``sf:rate:<key id>:<window number>`` and expires with its window, so every web
process of an installation shares it.  One request costs one round trip: ``SET ...
NX PX`` (the window's key with its expiry, unless it is there) and ``INCR``,
pipelined.  :meth:`RateLimiter.count` puts the two into a caller's pipeline, so that
an API key's lookup and its count share one round trip
(:class:`superflow.apikeys.Gate`).  The key cannot expire between
them: it is only counted during its own window and lives a second past it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import redis

from superflow import keys


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    """Whole seconds until the window turns (``Retry-After``); 0 when allowed."""


class RateLimiter:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def hit(self, who: str, limit: int, window: int, now: float | None = None) -> Verdict:
        """Count one request by ``who`` and say whether it is within the limit."""
        now = time.time() if now is None else now
        pipe = self.conn.pipeline(transaction=False)
        self.count(pipe, who, window, now)
        return self.verdict(pipe.execute(), limit, window, now)

    @staticmethod
    def count(pipe: redis.client.Pipeline, who: str, window: int, now: float) -> None:
        """Queue the count of one request by ``who`` in ``pipe``: two replies, the
        last of which :meth:`verdict` reads."""
        key = keys.rate(who, str(int(now // window)))
        pipe.set(key, 0, px=window * 1000 + 1000, nx=True)
        pipe.incr(key)

    @staticmethod
    def verdict(replies: list[Any], limit: int, window: int, now: float) -> Verdict:
        """Whether the request :meth:`count` counted is within ``limit`` (its count is
        the last of ``replies``)."""
        used = int(replies[-1])
        if used <= limit:
            return Verdict(True, limit, limit - used, 0)
        number = int(now // window)
        return Verdict(False, limit, 0, max(1, math.ceil((number + 1) * window - now)))
