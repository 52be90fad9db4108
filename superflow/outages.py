"""Channel outages: a channel that cannot be reached is backed off as a whole.

When a send finds its channel down (the SMTP server refuses connections, the SMS
gateway cannot be reached or keeps failing), the participants whose messages did
not go out wait for *the channel*, not each on a clock of their own: they are not
charged a step attempt, and the tick probes the channel (the transport's
``probe()``) after a pause that grows from one second to :data:`MAX_PAUSE`.  The
first probe that finds it back ends the outage, and those participants go on at
the next tick (the probe wakes them in the transaction that ends the outage).

Keys (this module owns them):

- ``sf:outages`` — sorted set of channels ("email", "sms") that are down, scored by
  when to probe them next.
- ``sf:outage:<channel>`` — hash: ``since``, ``error`` (the last one) and ``pause``.
- ``sf:outage:<channel>:waiting`` — set of the participants waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import WatchError

from superflow import keys

if TYPE_CHECKING:
    import redis
    from redis.client import Pipeline

FIRST_PAUSE = 1.0
MAX_PAUSE = 5.0
# A participant waiting for a channel tries again after this long even when no probe
# said the channel is back (a transport whose probe cannot tell).
RECHECK_SECONDS = 600.0

# Take the channels whose probe is due, and put each one's next probe a pause later
# (doubled, up to ARGV[3]): two workers never probe one channel at once.
CLAIM_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i, channel in ipairs(due) do
  local key = ARGV[2] .. channel
  local pause = tonumber(redis.call('HGET', key, 'pause') or ARGV[4])
  pause = math.min(pause * 2, tonumber(ARGV[3]))
  redis.call('HSET', key, 'pause', pause)
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + pause, channel)
end
return due
"""


def record(pipe: Pipeline, channel: str, pids: list[str], error: str, now: float | None = None) -> None:
    """Note (in the round's transaction) that ``channel`` is down with ``error`` (an
    empty one keeps the error noted before) and these participants wait for it; its
    first probe is :data:`FIRST_PAUSE` away unless one is already planned."""
    now = time.time() if now is None else now
    key = keys.outage(channel)
    pipe.sadd(keys.outage_waiting(channel), *pids)
    pipe.hsetnx(key, "since", now)
    pipe.hsetnx(key, "pause", FIRST_PAUSE)
    if error:
        pipe.hset(key, "error", error[:500])
    pipe.zadd(keys.OUTAGES, {channel: now + FIRST_PAUSE}, nx=True)


def down(conn: redis.Redis) -> set[str]:
    """The channels down just now."""
    return set(conn.zrange(keys.OUTAGES, 0, -1))


def claim_probes(conn: redis.Redis, now: float | None = None) -> list[str]:
    """The channels this caller should probe now (each given to one caller)."""
    now = time.time() if now is None else now
    args = [now, keys.OUTAGE_PREFIX, MAX_PAUSE, FIRST_PAUSE]
    return list(conn.eval(CLAIM_SCRIPT, 1, keys.OUTAGES, *args))


def ended(
    conn: redis.Redis, channel: str, wake: Callable[[Pipeline, list[str]], None]
) -> tuple[dict[str, str], list[str]]:
    """The channel is back: end its outage and, in the same transaction, ``wake``
    the participants that waited for it (so none is left waiting for a probe that
    already happened).  Returns what the outage was (since, error) and who waited."""
    with conn.pipeline() as pipe:
        while True:
            try:
                pipe.watch(keys.outage_waiting(channel))
                what = pipe.hgetall(keys.outage(channel))
                waiting = sorted(pipe.smembers(keys.outage_waiting(channel)))
                pipe.multi()
                pipe.zrem(keys.OUTAGES, channel)
                pipe.delete(keys.outage(channel), keys.outage_waiting(channel))
                if waiting:
                    wake(pipe, waiting)
                pipe.execute()
                return what, waiting
            except WatchError:
                continue


def outages(conn: redis.Redis) -> dict[str, dict[str, str]]:
    """Every channel down, with since, error and the pause before its next probe."""
    return {channel: conn.hgetall(keys.outage(channel)) for channel in sorted(down(conn))}
