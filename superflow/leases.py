"""Leases on participants: which job may move a participant now.

A job takes a short lease on each participant it moves, so two jobs never move one
participant at once; the worker's heartbeat renews the leases it holds, a lease held
by a worker that stopped beating is taken over at once, and a job that fails gives
its leases back so that RQ's retry, on any worker, can take them.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from superflow import heartbeat
from superflow import keys

if TYPE_CHECKING:
    import redis

    from superflow.config import Config

log = logging.getLogger(__name__)

# Take a lease on many participants in one round trip: SET NX PX for each key,
# keep it when this job already holds it, or take it over when its holder is a
# worker that stopped beating (ARGV[3]: the alive-key prefix, ARGV[4]: the prefix of
# workers' tokens).  Returns 1/0 per key.
LEASE_SCRIPT = """
local got = {}
local prefix_len = string.len(ARGV[4])
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    got[i] = 1
  else
    local holder = redis.call('GET', key)
    if holder == ARGV[1] then
      redis.call('PEXPIRE', key, ARGV[2])
      got[i] = 1
    elseif holder and string.sub(holder, 1, prefix_len) == ARGV[4]
        and redis.call('EXISTS', ARGV[3] .. holder) == 0 then
      redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
      got[i] = 1
    else
      got[i] = 0
    end
  end
end
return got
"""


# Keep the leases this job still holds: PEXPIRE each key whose value is our token.
RENEW_SCRIPT = """
local renewed = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    renewed = renewed + 1
  end
end
return renewed
"""

# Give back the leases this job still holds (it failed): DEL each key whose value
# is our token, so that RQ's retry, on any worker, can take them at once.
RELEASE_SCRIPT = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
"""


class LeaseLost(Exception):
    """Another worker took over participants this job was moving (it was taken for
    dead: frozen, or cut off from Redis, longer than the heartbeat): the round's
    writes are dropped, and RQ's retry of the job finds each participant as the
    other worker left it."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} participants were taken over by another worker; this round wrote nothing")


class Leases:
    """The leases this process holds, under its token.

    ``held`` are the lease keys held now; ``lock`` keeps a renewal out of a commit's
    check that the leases are still ours (:class:`superflow.commits.Commits`)."""

    def __init__(self, conn: redis.Redis, config: Config) -> None:
        self.config = config
        self.token = uuid.uuid4().hex[:12]
        self.held: set[str] = set()
        self.lock = threading.Lock()
        self.depth = 0
        self._lease_script = conn.register_script(LEASE_SCRIPT)
        self._renew_script = conn.register_script(RENEW_SCRIPT)
        self._release_script = conn.register_script(RELEASE_SCRIPT)

    def work_as(self, token: str) -> None:
        """Hold leases under a beating worker's token (:mod:`superflow.heartbeat`):
        when that worker stops beating, other workers may take its leases over."""
        self.token = token

    def take(self, pids: list[str]) -> list[str]:
        """Take a lease on each participant; return those this job got."""
        if not pids:
            return []
        wanted = [keys.lease(pid) for pid in pids]
        args = self.args(int(self.config.stuck_after_seconds * 1000))
        with self.lock:
            got = self._lease_script(keys=wanted, args=args)
            self.held.update(key for key, ok in zip(wanted, got, strict=True) if ok)
        return [pid for pid, ok in zip(pids, got, strict=True) if ok]

    def take_lock(self, key: str, ttl_ms: int) -> bool:
        """Take a lock such as the tick's, by the lease script's rules: one held by a
        worker that stopped beating is taken over at once, not when it runs out."""
        return bool(self._lease_script(keys=[key], args=self.args(ttl_ms))[0])

    def release_lock(self, key: str) -> None:
        """Give back a lock taken with :meth:`take_lock`, if it is still ours."""
        self._release_script(keys=[key], args=[self.token])

    def args(self, ttl_ms: int) -> list[Any]:
        """The lease script's arguments: this process's token, the time to live, and
        the prefixes by which it tells a worker that stopped beating."""
        return [self.token, ttl_ms, heartbeat.ALIVE_PREFIX, heartbeat.TOKEN_PREFIX]

    def renew(self) -> int:
        """Extend the leases this process holds (the worker's heartbeat calls it), so
        a round that takes longer than ``SUPERFLOW_STUCK_AFTER_SECONDS`` is never
        taken for a dead one and run a second time at once.  Returns how many were
        still ours."""
        with self.lock:
            held = list(self.held)
            if not held:
                return 0
            ttl = int(self.config.stuck_after_seconds * 1000)
            return int(self._renew_script(keys=held, args=[self.token, ttl]))

    def release(self) -> None:
        """Give back every lease this process still holds."""
        with self.lock:
            held, self.held = list(self.held), set()
        try:
            self._release_script(keys=held, args=[self.token])
        except Exception:
            log.warning("could not give back %d leases; they run out by themselves", len(held))


Method = TypeVar("Method", bound=Callable[..., Any])


def holds_leases(method: Method) -> Method:
    """An entry point of engine work (on a part with ``leases``): when its outermost
    call ends — committed or failed — the heartbeat stops renewing the leases it
    took, and those a failure left are given back (RQ's retry then takes them at
    once, on any worker)."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        leases: Leases = self.leases
        leases.depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            leases.depth -= 1
            if not leases.depth and leases.held:
                leases.release()

    return run  # type: ignore[return-value]
