"""Rate limits: a fixed window per API key, counted in Redis.

Each key may make ``limit`` requests per ``window`` seconds.  The count lives under
``sf:rate:<key id>:<window number>`` and expires with its window, so every web
process of an installation shares it.  One request costs one round trip (a script
that counts and sets the expiry together).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis

COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    """Whole seconds until the window turns (``Retry-After``); 0 when allowed."""


class RateLimiter:
    def __init__(self, conn: redis.Redis) -> None:
        self._count = conn.register_script(COUNT_SCRIPT)

    def hit(self, who: str, limit: int, window: int, now: float | None = None) -> Verdict:
        """Count one request by ``who`` and say whether it is within the limit."""
        now = time.time() if now is None else now
        number = int(now // window)
        key = f"sf:rate:{who}:{number}"
        used = int(self._count(keys=[key], args=[window * 1000 + 1000]))
        if used <= limit:
            return Verdict(True, limit, limit - used, 0)
        return Verdict(False, limit, 0, max(1, math.ceil((number + 1) * window - now)))
