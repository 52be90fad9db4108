"""The engine's state in Redis: flows, versions, participants, history, counters.

The keys are :mod:`superflow.keys`' and the report counters :mod:`superflow.counters`'.  Changes to
participants are gathered in a :class:`Changes` and committed together with the
job that comes next in one MULTI/EXEC.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import redis
from redis.client import Pipeline

from superflow import failures
from superflow import keys
from superflow import metrics
from superflow import outages
from superflow.counters import Counters

FINAL_STATUSES = ("completed", "succeeded", "exited", "cancelled")
DAILY_COUNTERS = ("enrolled", *FINAL_STATUSES)


def index_of(status: str, step: str | None) -> str:
    """The one index a participant in this state belongs to: ``step:<id>`` while
    active, ``status:<status>`` once finished.  One entry per participant keeps the
    indexes at about 100 bytes a participant; "all active" is the union of the step
    indexes (see :mod:`superflow.roster`)."""
    return f"step:{step or ''}" if status == "active" else f"status:{status}"


def enrolment_number(pid: str) -> int:
    """The ``<n>`` of ``<flow>.<n>``: the order of enrolment in the flow, the score of
    the indexes (unique, unlike enrolment times, so pages never tie)."""
    return int(pid.rpartition(".")[2])


def day_of(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass
class Participant:
    """One person's way through one flow (a participation).

    Stored as one JSON document under ``sf:p:<id>``: a batch of participants is
    read with one MGET and written with one MSET, and a short string costs Redis
    less memory than a hash plus a list.
    """

    id: str
    flow_id: str
    person_id: str
    version: int
    status: str
    step: str | None
    enrolled: float
    updated: float
    source: str = ""
    event: dict[str, Any] = field(default_factory=dict)
    wait: dict[str, Any] | None = None
    reason: str = ""
    last_sending: dict[str, Any] | None = None
    succeeded: float | None = None
    actions: list[str] = field(default_factory=list)
    entries: list[list[Any]] = field(default_factory=list, repr=False)
    visits: dict[str, int] = field(default_factory=dict)
    running: bool = False
    #: When the event that enrolled the participant, or ended its wait, was
    #: emitted; cleared by the step it sets going (the event → step latency metric).
    event_at: float | None = None
    # The index (see index_of) the stored participant is in: what a commit takes it out of.
    indexed: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_json(cls, pid: str, text: str) -> Participant:
        d = json.loads(text)
        p = cls(
            id=pid,
            flow_id=d["flow"],
            person_id=d["person"],
            version=d["version"],
            status=d["status"],
            step=d.get("step"),
            enrolled=d["enrolled"],
            updated=d["enrolled"] + (d["h"][-1][0] if d.get("h") else 0),
            source=d["h"][0][3] if d.get("h") and d["h"][0][2] == "enrolled" else "",
            event=d.get("event", {}),
            wait=d.get("wait"),
            reason=d.get("reason", ""),
            last_sending=d.get("sent"),
            succeeded=d.get("succeeded"),
            actions=d.get("acts", []),
            entries=d.get("h", []),
            visits=d.get("visits", {}),
            event_at=d.get("ea"),
        )
        p.indexed = index_of(p.status, p.step)
        return p

    def to_json(self) -> str:
        d: dict[str, Any] = {
            "flow": self.flow_id,
            "person": self.person_id,
            "version": self.version,
            "status": self.status,
            "step": self.step,
            "enrolled": int(self.enrolled),
        }
        optional = {
            "event": self.event,
            "wait": self.wait,
            "reason": self.reason,
            "sent": self.last_sending,
            "succeeded": self.succeeded,
            "acts": self.actions,
            "visits": self.visits,
            "ea": round(self.event_at, 3) if self.event_at else None,
        }
        d.update((k, v) for k, v in optional.items() if v)
        d["h"] = self.entries
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)

    def note(self, ts: float, step: str | None, kind: str, text: str = "") -> None:
        """Add an entry to the history: ``[seconds since enrolment, step, kind, note]``
        (relative times are shorter, and participants are many)."""
        self.entries.append([int(ts - int(self.enrolled)), step or "", kind, text])

    @property
    def history(self) -> list[dict[str, Any]]:
        start = int(self.enrolled)
        return [
            {"at": at + start, "step": step or None, "kind": kind, "note": note}
            for at, step, kind, note in self.entries
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow_id": self.flow_id,
            "person_id": self.person_id,
            "version": self.version,
            "status": self.status,
            "step": self.step,
            "enrolled": self.enrolled,
            "updated": self.updated,
            "source": self.source,
            "wait": self.wait,
            "reason": self.reason,
            "last_sending": self.last_sending,
            "succeeded": self.succeeded,
            "actions": self.actions,
        }


class Store:
    """Reads and writes of engine state on one Redis connection."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    # -- flows -------------------------------------------------------------
    def new_flow_id(self) -> str:
        return str(self.conn.incr(keys.FLOW_SEQ))

    def flow_ids(self) -> list[str]:
        return list(self.conn.zrange(keys.FLOWS, 0, -1))

    def flow_meta(self, flow_id: str) -> dict[str, str]:
        return self.conn.hgetall(keys.flow(flow_id))

    def flow_doc(self, flow_id: str, version: int | None = None) -> dict[str, Any] | None:
        if version is None:
            raw = self.conn.hget(keys.flow(flow_id), "doc")
        else:
            raw = self.conn.hget(keys.flow_versions(flow_id), str(version))
        return json.loads(raw) if raw else None

    def flow_versions(self, flow_id: str) -> list[int]:
        return sorted(int(v) for v in self.conn.hkeys(keys.flow_versions(flow_id)))

    def stats(self, flow_id: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.hgetall(keys.flow_stats(flow_id)).items()}

    def daily(self, flow_id: str, day: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.hgetall(keys.flow_daily(flow_id, day)).items()}

    # -- participants ------------------------------------------------------
    def participants(self, pids: Iterable[str]) -> dict[str, Participant]:
        """Load participants (one MGET per thousand), with their run markers."""
        pids = list(pids)
        found = {}
        for start in range(0, len(pids), 1000):
            chunk = pids[start : start + 1000]
            pipe = self.conn.pipeline(transaction=False)
            pipe.mget([keys.participant(pid) for pid in chunk])
            pipe.mget([keys.run_marker(pid) for pid in chunk])
            docs, runs = pipe.execute()
            for pid, text, run in zip(chunk, docs, runs, strict=True):
                if text:
                    p = Participant.from_json(pid, text)
                    p.running = run is not None and run == p.step
                    found[pid] = p
        return found

    def participant(self, pid: str) -> Participant | None:
        return self.participants([pid]).get(pid)

    def flow_participant_ids(self, flow_id: str, offset: int = 0, limit: int | None = None) -> list[str]:
        """Participant ids of a flow, newest first (ids are ``<flow>.<n>``)."""
        top = int(self.conn.get(keys.participant_seq(flow_id)) or 0)
        stop = 0 if limit is None else max(0, top - offset - limit)
        return [f"{flow_id}.{n}" for n in range(top - offset, stop, -1)]

    def history(self, pid: str) -> list[dict[str, Any]]:
        p = self.participant(pid)
        return p.history if p else []

    def person_participations(self, person_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """``{person_id: {flow_id: latest participant id}}``."""
        person_ids = list(person_ids)
        pipe = self.conn.pipeline(transaction=False)
        for person_id in person_ids:
            pipe.hgetall(keys.person(person_id))
        return dict(zip(person_ids, pipe.execute(), strict=True))

    def claim(self, key: str, ttl: int = 30 * 86400) -> bool:
        """At-most-once ledger: true the first time ``key`` is claimed."""
        return bool(self.conn.set(keys.ledger(key), "1", nx=True, ex=ttl))

    def release(self, key: str) -> None:
        """Give a claim back: the effect it guarded did not happen."""
        self.conn.delete(keys.ledger(key))

    def drop_leases(self, pids: Iterable[str]) -> None:
        """Take the participants from whatever job holds them (``superflow stuck --resume``)."""
        leases = [keys.lease(pid) for pid in pids]
        if leases:
            self.conn.delete(*leases)


CLAIM_SCRIPT = """
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1]) end
if redis.call('SET', KEYS[1], 'claimed', 'NX', 'EX', ARGV[1]) then return false end
return redis.call('GET', KEYS[1])
"""


class MessageLedger:
    """Where each outgoing message stands, by idempotency key: claimed right before
    it is handed over, ``sent:<message id>`` right after (see
    :func:`superflow.channels.deliver`)."""

    def __init__(self, conn: redis.Redis, ttl: int = 30 * 86400) -> None:
        self.conn = conn
        self.ttl = ttl
        self._claim = conn.register_script(CLAIM_SCRIPT)

    def claim(self, key: str, sent: tuple[str, str] | None = None) -> tuple[str, str]:
        """Claim ``key`` unless the ledger already has it; returns ``(state, message id)``:
        ``("new", "")`` when this call claimed it, ``("in_doubt", "")`` when an earlier
        claim was never recorded, ``("sent", id)`` when it was recorded as sent (the id
        is empty for entries from before message ids were kept).

        ``sent`` is the previous message's ``(key, message id)``, recorded as
        :meth:`sent` would, first, in the same round trip."""
        if sent is None:
            found = self._claim(keys=[keys.ledger(key)], args=[self.ttl])
        else:
            claimed = [keys.ledger(key), keys.ledger(sent[0])]
            found = self._claim(keys=claimed, args=[self.ttl, f"sent:{sent[1]}"])
        if found is None:
            return "new", ""
        found = found.decode() if isinstance(found, bytes) else str(found)
        if found == "claimed":
            return "in_doubt", ""
        return "sent", found.removeprefix("sent:") if found != "1" else ""

    def sent(self, key: str, message_id: str) -> None:
        self.conn.set(keys.ledger(key), f"sent:{message_id}", ex=self.ttl)

    def release(self, key: str) -> None:
        self.conn.delete(keys.ledger(key))


class Changes:
    """Everything one round of engine work will write, committed in one MULTI/EXEC.

    Counters are summed before they are sent, so a batch of 500 participants
    passing one step costs one HINCRBY, not 500.
    """

    def __init__(self) -> None:
        self.docs: dict[str, Participant] = {}
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.daily: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.wakeups: dict[str, float | None] = {}
        self.inflight: dict[str, bool] = {}
        self.awaiting: dict[str, int] = defaultdict(int)
        self.parked: dict[str, set[str]] = defaultdict(set)
        self.person_index: dict[str, dict[str, str]] = defaultdict(dict)
        self.delete: set[str] = set()
        self.advance: list[str] = []
        self.after: list[Any] = []
        # Channels found down in this round: the participants waiting for each, and why.
        self.outages: dict[str, dict[str, str]] = defaultdict(dict)
        # Steps that failed in this round, and why (superflow.failures).
        self.trouble = failures.Trouble()
        self.metrics = metrics.Tally()

    def save(self, p: Participant, ts: float) -> None:
        p.updated = ts
        self.docs[p.id] = p

    def count(self, flow_id: str, ts: float, **deltas: int) -> None:
        """Add to a flow's counters, and to today's bucket for the outcome counters."""
        for name, delta in deltas.items():
            self.counts[flow_id][name] += delta
            if name in DAILY_COUNTERS:
                self.daily[(flow_id, day_of(ts))][name] += delta

    def wake_at(self, pid: str, when: float | None) -> None:
        self.wakeups[pid] = when

    def in_flight(self, pid: str, flying: bool) -> None:
        self.inflight[pid] = flying

    def commit(self, pipe: Pipeline, enqueue: Any) -> None:
        """Queue every write on ``pipe`` (already in MULTI); ``enqueue(pids, pipe)``
        adds the advance jobs to the same transaction."""
        self.metrics.write(pipe)
        if self.docs:
            pipe.mset({keys.participant(pid): p.to_json() for pid, p in self.docs.items()})
            self._reindex(pipe)
        for flow_id, deltas in self.counts.items():
            Counters.add(pipe, flow_id, deltas)
        for (flow_id, day), deltas in self.daily.items():
            Counters.add_daily(pipe, flow_id, day, deltas)
        wake = {pid: when for pid, when in self.wakeups.items() if when is not None}
        if wake:
            pipe.zadd(keys.WAKEUPS, wake)
        unwake = [pid for pid, when in self.wakeups.items() if when is None]
        if unwake:
            pipe.zrem(keys.WAKEUPS, *unwake)
        now = time.time()
        flying = {pid: now for pid, on in self.inflight.items() if on}
        if flying:
            pipe.zadd(keys.INFLIGHT, flying)
        landed = [pid for pid, on in self.inflight.items() if not on]
        if landed:
            pipe.zrem(keys.INFLIGHT, *landed)
        for event_type, delta in self.awaiting.items():
            if delta:
                pipe.hincrby(keys.AWAITING, event_type, delta)
        for flow_id, pids in self.parked.items():
            pipe.sadd(keys.parked(flow_id), *pids)
        for person_id, flows in self.person_index.items():
            pipe.hset(keys.person(person_id), mapping=flows)
        for channel, waiting in self.outages.items():
            error = next((e for e in reversed(waiting.values()) if e), "")
            outages.record(pipe, channel, list(waiting), error)
        self.trouble.write(pipe)
        if self.delete:
            pipe.delete(*self.delete)
        if self.advance:
            enqueue(self.advance, pipe)

    def _reindex(self, pipe: Pipeline) -> None:
        """Move each saved participant whose status or step changed from the index it
        was loaded in to the one it belongs to now (:func:`index_of`), one ZADD and
        one ZREM per index for the whole round."""
        adds: dict[str, dict[str, int]] = defaultdict(dict)
        removes: dict[str, list[str]] = defaultdict(list)
        steps: dict[str, set[str]] = defaultdict(set)
        finished: dict[str, float] = {}
        for pid, p in self.docs.items():
            now_in = index_of(p.status, p.step)
            if now_in == p.indexed:
                continue
            adds[keys.flow_index(p.flow_id, now_in)][pid] = enrolment_number(pid)
            if p.indexed is not None:
                removes[keys.flow_index(p.flow_id, p.indexed)].append(pid)
            if p.status == "active":
                steps[p.flow_id].add(p.step or "")
            elif p.indexed is None or p.indexed.startswith("step:"):
                finished[pid] = round(p.updated, 3)
            p.indexed = now_in
        for key, pids in removes.items():
            pipe.zrem(key, *pids)
        for key, scores in adds.items():
            pipe.zadd(key, scores)
        for flow_id, step_ids in steps.items():
            pipe.sadd(keys.index_steps(flow_id), *step_ids)
        if finished:
            pipe.zadd(keys.FINISHED, finished)
