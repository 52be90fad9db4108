"""Who is in a flow: pages of a flow's participants, filtered by status or step and
sorted by enrolment, status or step, read from indexes the engine keeps at write time
(:meth:`superflow.store.Changes.commit`), never by loading the participants.

Each participant is in exactly one index of its flow, scored by its enrolment number
(the ``<n>`` of ``<flow>.<n>``): ``sf:flow:<id>:ix:step:<step>`` while active,
``sf:flow:<id>:ix:status:<status>`` once finished.  "All active participants" is the
union of the step indexes; a page of it is cut by a Lua script that finds, by binary
search over scores with ``ZCOUNT``, the score at the page's first rank (scores are
unique, so there are no ties to break).  Orders made of several groups (by status, by
step) page across the groups' sizes (``ZCARD``).  Every page costs O(log N + limit)
however deep it starts.

Every function takes a connection that decodes responses (``Runtime.redis``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import redis

from superflow import keys
from superflow.store import FINAL_STATUSES
from superflow.store import Participant
from superflow.store import enrolment_number
from superflow.store import index_of

STATUSES = ("active", *FINAL_STATUSES)
SORTS = ("enrolled", "status", "step")
REINDEX_CHUNK = 1000

# KEYS: sorted sets with disjoint members and distinct integer scores; ARGV: start,
# count, descending ("1"/"0").  Returns the members at ranks start .. start+count-1 of
# their union, in score order (highest first when descending).  It looks for the
# smallest score t with more than `rank` members scored <= t, alternating
# interpolation (the counts grow about linearly with the score) and bisection (so
# the worst case stays logarithmic); keys whose whole range is below or above a
# probe are counted without a call.
MERGED_RANGE = """
local start, count, desc = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local sets, total, lo, hi = {}, 0, nil, nil
for _, key in ipairs(KEYS) do
  local n = redis.call('ZCARD', key)
  if n > 0 then
    local first = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
    local last = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
    sets[#sets + 1] = {key, n, first, last}
    total = total + n
    if lo == nil or first < lo then lo = first end
    if hi == nil or last > hi then hi = last end
  end
end
if start >= total or count < 1 then return {} end
local rank = start
if desc then rank = total - 1 - start end
local function upto(t)
  local c = 0
  for _, s in ipairs(sets) do
    if t >= s[4] then c = c + s[2]
    elseif t >= s[3] then c = c + redis.call('ZCOUNT', s[1], '-inf', t) end
  end
  return c
end
local below, upto_hi, probe = 0, total, 0
while lo < hi do
  local mid
  probe = probe + 1
  if probe % 2 == 1 then
    mid = lo - 1 + math.floor((rank + 1 - below) * (hi - lo + 1) / (upto_hi - below))
  else
    mid = math.floor((lo + hi) / 2)
  end
  if mid < lo then mid = lo elseif mid >= hi then mid = hi - 1 end
  local c = upto(mid)
  if c > rank then hi, upto_hi = mid, c else lo, below = mid + 1, c end
end
local found = {}
for _, s in ipairs(sets) do
  local got
  if desc then
    got = redis.call('ZREVRANGEBYSCORE', s[1], lo, '-inf', 'WITHSCORES', 'LIMIT', 0, count)
  else
    got = redis.call('ZRANGEBYSCORE', s[1], lo, '+inf', 'WITHSCORES', 'LIMIT', 0, count)
  end
  for i = 1, #got, 2 do found[#found + 1] = {got[i], tonumber(got[i + 1])} end
end
if desc then
  table.sort(found, function(a, b) return a[2] > b[2] end)
else
  table.sort(found, function(a, b) return a[2] < b[2] end)
end
local ids = {}
for i = 1, math.min(count, #found) do ids[i] = found[i][1] end
return ids
"""


@dataclass
class Page:
    """One page of a flow's participants: their ids in order, and how many match."""

    ids: list[str]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts; ``None`` on the last page."""
        end = self.offset + self.limit
        return end if end < self.total else None


def page(
    conn: redis.Redis,
    flow_id: str,
    *,
    status: str | None = None,
    step: str | None = None,
    sort: str = "enrolled",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
    steps: list[str] | tuple[str, ...] = (),
) -> Page:
    """A page of the flow's participants.

    ``status`` and ``step`` filter (a step filter means active participants: with a
    final ``status`` it matches nobody).  ``sort``: ``enrolled`` (enrolment order),
    ``status`` (active, completed, succeeded, exited, cancelled; enrolment order
    within), ``step`` (active participants by their step in the order of ``steps``
    — the flow's step ids in flow order; steps not listed follow, by id — then the
    finished ones by status).  ``descending`` reverses the whole order: newest first
    for ``enrolled``, cancelled first for ``status``.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    offset, limit = max(0, offset), max(0, limit)
    purged = conn.hget(keys.flow_stats(flow_id), "purged")
    if status is None and step is None and sort == "enrolled" and not purged:
        return _by_sequence(conn, flow_id, descending, offset, limit)
    groups = _groups(conn, flow_id, status, step, sort, steps)
    pipe = conn.pipeline(transaction=False)
    for group in groups:
        for key in group:
            pipe.zcard(key)
    cards = iter(pipe.execute())
    sized = [(group, sum(next(cards) for _ in group)) for group in groups]
    total = sum(size for _, size in sized)
    if descending:
        sized.reverse()
    ids: list[str] = []
    skip = offset
    for group, size in sized:
        if len(ids) >= limit:
            break
        if skip >= size:
            skip -= size
            continue
        ids += _range(conn, group, skip, min(limit - len(ids), size - skip), descending)
        skip = 0
    return Page(ids=ids, total=total, offset=offset, limit=limit)


def counts(conn: redis.Redis, flow_id: str) -> dict[str, dict[str, int]]:
    """How many participants each filter would show: ``{"status": {status: n},
    "step": {step id: active participants there}}`` (steps nobody is at are left
    out).  Two round trips."""
    step_ids = sorted(conn.smembers(keys.index_steps(flow_id)))
    pipe = conn.pipeline(transaction=False)
    for step_id in step_ids:
        pipe.zcard(keys.step_index(flow_id, step_id))
    for status in FINAL_STATUSES:
        pipe.zcard(keys.status_index(flow_id, status))
    sizes = pipe.execute()
    at = {step_id: n for step_id, n in zip(step_ids, sizes, strict=False) if n}
    finished = dict(zip(FINAL_STATUSES, sizes[len(step_ids) :], strict=True))
    return {"status": {"active": sum(at.values()), **finished}, "step": at}


def reindex(conn: redis.Redis, flow_id: str, chunk: int = REINDEX_CHUNK) -> int:
    """Rebuild the flow's indexes from its participant documents (for participants
    written before the indexes existed, or indexes lost) and put its finished ones on
    the purge schedule (``sf:finished``); return how many participants were indexed.

    Works through the ids ``<flow>.1`` … ``<flow>.<seq>`` in chunks, each in one
    MULTI/EXEC that WATCHes the chunk's documents: a chunk a running engine changed
    meanwhile is read and written again, so the engine's own index moves are never
    undone.  Safe to run while workers run, and again.
    """
    top = int(conn.get(keys.participant_seq(flow_id)) or 0)
    step_ids = set(conn.smembers(keys.index_steps(flow_id)))
    prefix = keys.step_index(flow_id, "")
    step_ids |= {key[len(prefix) :] for key in conn.scan_iter(match=f"{prefix}*", count=1000)}
    indexed = 0
    for first in range(1, top + 1, chunk):
        pids = [f"{flow_id}.{n}" for n in range(first, min(first + chunk, top + 1))]
        indexed += _reindex_chunk(conn, flow_id, pids, step_ids)
    return indexed


def _reindex_chunk(conn: redis.Redis, flow_id: str, pids: list[str], step_ids: set[str]) -> int:
    stored = [keys.participant(pid) for pid in pids]
    with conn.pipeline() as pipe:
        while True:
            try:
                pipe.watch(*stored)
                docs = pipe.mget(stored)
                members: dict[str, dict[str, int]] = defaultdict(dict)
                finished: dict[str, float] = {}
                for pid, text in zip(pids, docs, strict=True):
                    if text:
                        p = Participant.from_json(pid, text)
                        members[index_of(p.status, p.step)][pid] = enrolment_number(pid)
                        if p.status == "active":
                            step_ids.add(p.step or "")
                        else:
                            finished[pid] = p.updated
                pipe.multi()
                every = [f"step:{s}" for s in sorted(step_ids)] + [f"status:{s}" for s in FINAL_STATUSES]
                for index in every:
                    pipe.zrem(keys.flow_index(flow_id, index), *pids)
                for index, scores in members.items():
                    pipe.zadd(keys.flow_index(flow_id, index), scores)
                if step_ids:
                    pipe.sadd(keys.index_steps(flow_id), *step_ids)
                if finished:
                    pipe.zadd(keys.FINISHED, finished, nx=True)
                pipe.execute()
                return sum(len(scores) for scores in members.values())
            except redis.WatchError:
                continue


def _by_sequence(conn: redis.Redis, flow_id: str, descending: bool, offset: int, limit: int) -> Page:
    """Every participant in enrolment order straight from the id sequence: no index
    read at all (an id whose enrolment did not commit has no document; loaders skip it)."""
    top = int(conn.get(keys.participant_seq(flow_id)) or 0)
    count = max(0, min(limit, top - offset))
    if descending:
        numbers = range(top - offset, top - offset - count, -1)
    else:
        numbers = range(offset + 1, offset + 1 + count)
    return Page(ids=[f"{flow_id}.{n}" for n in numbers], total=top, offset=offset, limit=limit)


def _groups(
    conn: redis.Redis,
    flow_id: str,
    status: str | None,
    step: str | None,
    sort: str,
    steps: list[str] | tuple[str, ...],
) -> list[tuple[str, ...]]:
    """The order to page through, as groups of index keys: the groups follow one
    another, the keys of one group are merged in enrolment order."""
    if step is not None:
        return [(keys.step_index(flow_id, step),)] if status in (None, "active") else []
    if status is not None and status != "active":
        return [(keys.status_index(flow_id, status),)]
    known = set(conn.smembers(keys.index_steps(flow_id)))
    ordered = list(dict.fromkeys(steps)) + sorted(known.difference(steps))
    step_keys = [keys.step_index(flow_id, s) for s in ordered]
    active = [(key,) for key in step_keys] if sort == "step" else [tuple(step_keys)]
    if status == "active":
        return active
    finished = [keys.status_index(flow_id, s) for s in FINAL_STATUSES]
    if sort == "enrolled":  # everyone in enrolment order, once finished ones were purged
        return [(*step_keys, *finished)]
    return active + [(key,) for key in finished]


def _range(conn: redis.Redis, keys: tuple[str, ...], start: int, count: int, descending: bool) -> list[str]:
    if count <= 0 or not keys:
        return []
    if len(keys) == 1:
        return list(conn.zrange(keys[0], start, start + count - 1, desc=descending))
    script = conn.register_script(MERGED_RANGE)  # EVALSHA; loads the script once per server
    return list(script(keys=list(keys), args=[start, count, 1 if descending else 0]))
