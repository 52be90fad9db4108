"""Work that batches itself under load and stays immediate when idle (group commit).

Events, and participants ready for their next step, do not get an RQ job each: they
are put in an inbox (a Redis list), and a *drain* job takes up to
``SUPERFLOW_BATCH_SIZE`` of them at a time (:mod:`superflow.jobs` runs it).  A drain
job is queued only when none is waiting to start, so when one event comes in, a
drain job takes it at once; when hundreds come in a second, each drain job takes
all that came while the one before it ran.

Nothing is lost when a worker dies mid-drain: a drain job moves what it takes into
its own claim list in one step (:data:`CLAIM`), named by the batch id in the job's
arguments; the job handed over (or retried) finds that list and goes on with the
same items.  Items put inside a MULTI/EXEC are written with the state they follow.

Keys (this module alone spells them):

- ``sf:inbox:<kind>``: list of waiting items (``events``: event JSON; ``advance``:
  participant ids).
- ``sf:inbox:<kind>:queued``: set while a drain job is queued and not started; it
  expires after :func:`flag_seconds`, so a flag whose job was never queued (a
  process killed in between) does not hold the inbox up for longer.
- ``sf:inbox:claim:<batch id>``: the items one drain job took; deleted when done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from superflow import keys
from superflow import metrics

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

EVENTS = "events"
ADVANCE = "advance"
KINDS = (EVENTS, ADVANCE)
CLAIM_TTL = 7 * 86400
"""A claim outlives its job by as long as RQ keeps a failed job, so that a failed
drain job queued again by an operator still finds its items."""


def flag_seconds(heartbeat_seconds: float) -> int:
    """How long a "drain queued" flag lasts: long enough for a queued job to start
    on a busy queue, short enough that a lost one is replaced within seconds."""
    return max(5, int(2 * heartbeat_seconds))


CLAIM = """
local claimed = redis.call('LRANGE', KEYS[3], 0, -1)
if #claimed > 0 then
  return {claimed, redis.call('LLEN', KEYS[1])}
end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
end
local items = redis.call('LPOP', KEYS[1], ARGV[1])
if not items then
  return {{}, 0}
end
redis.call('RPUSH', KEYS[3], unpack(items))
redis.call('EXPIRE', KEYS[3], ARGV[2])
return {items, redis.call('LLEN', KEYS[1])}
"""
"""KEYS: inbox, its queued flag, the batch's claim; ARGV: how many, the claim's TTL,
``1`` on a drain job's first claim.  A batch that claimed before (a re-run) gets its
own items again; otherwise up to ARGV[1] items move to the claim, and on the first
claim the flag is cleared: the queued job has started, so what comes next queues a
new one (later claims of the same job leave it, or a job that goes on taking
batches would queue one per batch).  Returns the items and how many are left."""


def put(conn: Redis | Pipeline, kind: str, items: list[str]) -> None:
    """Append ``items`` to the inbox on ``conn`` (a pipeline in MULTI writes them with
    the state they follow); the caller then makes sure a drain job is queued."""
    if items:
        conn.rpush(keys.inbox(kind), *items)


def put_and_flag(conn: Redis, kind: str, items: list[str], flag_ttl: int) -> bool:
    """Append ``items`` and set the queued flag in one round trip; ``True`` when the
    flag was not set, i.e. the caller must queue a drain job."""
    pipe = conn.pipeline(transaction=False)
    # Items first: a drain that clears the flag after this RPUSH takes them, and one
    # that cleared it before lets the SET below succeed, so a new drain is queued.
    pipe.rpush(keys.inbox(kind), *items)
    pipe.set(keys.inbox_queued(kind), "1", nx=True, ex=flag_ttl)
    if kind == EVENTS:
        metrics.count_events(pipe, len(items))
    return bool(pipe.execute()[1])


def flag(conn: Redis, kind: str, flag_ttl: int) -> bool:
    """Set the queued flag; ``True`` when it was not set (queue a drain job)."""
    return bool(conn.set(keys.inbox_queued(kind), "1", nx=True, ex=flag_ttl))


class Claimer:
    """Runs :data:`CLAIM` (registered once per connection)."""

    def __init__(self, conn: Redis) -> None:
        self._script = conn.register_script(CLAIM)

    def __call__(self, kind: str, batch: str, size: int, first: bool = True) -> tuple[list[Any], int]:
        """The batch's items (claimed now, or before by an earlier run of its job) and
        how many items are left in the inbox; ``first`` for a job's first claim."""
        claimed = [keys.inbox(kind), keys.inbox_queued(kind), keys.inbox_claim(batch)]
        items, left = self._script(keys=claimed, args=[size, CLAIM_TTL, "1" if first else "0"])
        return list(items), int(left)


def done(conn: Redis, batch: str, events: int = 0) -> None:
    """The batch is handled: forget its claim, and count the ``events`` it held as
    handled (once, however often the batch ran)."""
    pipe = conn.pipeline(transaction=True)
    pipe.delete(keys.inbox_claim(batch))
    metrics.count_events_handled(pipe, events)
    pipe.execute()


def forgotten(conn: Redis) -> list[str]:
    """Inboxes that hold items with no drain job queued for them: a process died
    between writing them and queuing the job, or a flag ran out while its job sat in
    a long queue.  The tick queues a drain job for each."""
    pipe = conn.pipeline(transaction=False)
    for kind in KINDS:
        pipe.llen(keys.inbox(kind))
        pipe.exists(keys.inbox_queued(kind))
    replies = pipe.execute()
    return [kind for i, kind in enumerate(KINDS) if replies[2 * i] and not replies[2 * i + 1]]


def waiting(conn: Redis) -> dict[str, int]:
    """Items waiting in each inbox (for ``/health``)."""
    pipe = conn.pipeline(transaction=False)
    for kind in KINDS:
        pipe.llen(keys.inbox(kind))
    return dict(zip(KINDS, (int(n) for n in pipe.execute()), strict=True))
