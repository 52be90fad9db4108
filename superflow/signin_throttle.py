"""Failed sign-ins counted per user name and per address, to stop password guessing.

A failure adds one to ``sf:signin-fail:user:<name>`` and ``sf:signin-fail:ip:<address>``;
each count expires ``window`` seconds after its first failure.  While either count
is at its limit, sign-ins for that name or from that address are refused before the
password is looked at, so a guess that happens to be right is refused too.  A
successful sign-in clears the user's count (not the address's: one address guessing
many names stays held back).  Names that no user could have are counted like real
ones, so the answers never tell which users exist.

Unlike :mod:`superflow.ratelimit` (every request counts), only failures count here,
and a check must not count at all.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis

from superflow import keys

FAIL_SCRIPT = """
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 1
"""


@dataclass(frozen=True)
class Limits:
    user: int
    """Failures one user name may have within ``window``."""
    ip: int
    """Failures one address may have within ``window``."""
    window: int
    """Seconds a count lasts, from its first failure."""


def user_key(username: str) -> str:
    """The count's key for a user name; long or odd names are hashed to bound the key."""
    name = username.strip().lower()
    if len(name) > 80 or not name.isascii() or not name.isprintable():
        name = "#" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:32]
    return keys.signin_fail_user(name)


class SigninThrottle:
    def __init__(self, conn: redis.Redis, limits: Limits) -> None:
        self._conn = conn
        self._limits = limits
        self._fail = conn.register_script(FAIL_SCRIPT)

    def wait(self, username: str, address: str) -> int:
        """Seconds until this name may try again from this address; 0 when it may now."""
        pipe = self._conn.pipeline(transaction=False)
        for key in (user_key(username), keys.signin_fail_ip(address)):
            pipe.get(key)
            pipe.pttl(key)
        user_n, user_ttl, ip_n, ip_ttl = pipe.execute()
        waits = [
            ttl
            for count, ttl, limit in ((user_n, user_ttl, self._limits.user), (ip_n, ip_ttl, self._limits.ip))
            if count is not None and int(count) >= limit
        ]
        if not waits:
            return 0
        longest = max(waits)
        return self._limits.window if longest < 0 else max(1, math.ceil(longest / 1000))

    def failed(self, username: str, address: str) -> None:
        """Count one failed sign-in for the name and for the address."""
        self._fail(keys=[user_key(username), keys.signin_fail_ip(address)], args=[self._limits.window * 1000])

    def succeeded(self, username: str) -> None:
        """Forget the name's failures (the address's stay)."""
        self._conn.delete(user_key(username))
