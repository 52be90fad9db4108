"""The engine's state in Redis: flows, versions, participants, history, counters.

Every key starts with ``sf:``; ``docs/redis-keys.md`` lists them all.  Functions that
change a participant take a pipeline, so the caller can commit the change together
with the job that comes next in one MULTI/EXEC.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.client import Pipeline

FLOWS = "sf:flows"
FLOW_SEQ = "sf:seq:flow"
WAKEUPS = "sf:wakeups"
INFLIGHT = "sf:inflight"
ACTIVE_STATUSES = ("active",)
FINAL_STATUSES = ("completed", "succeeded", "exited", "cancelled")


def flow_key(flow_id: str) -> str:
    return f"sf:flow:{flow_id}"


def versions_key(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:versions"


def seq_key(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:seq"


def stats_key(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:stats"


def daily_key(flow_id: str, day: str) -> str:
    return f"sf:flow:{flow_id}:daily:{day}"


def parked_key(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:parked"


def pending_key(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:pending"


def listen_key(event_type: str) -> str:
    return f"sf:listen:{event_type}"


def criteria_key(event_type: str) -> str:
    return f"sf:criteria:{event_type}"


def participant_key(pid: str) -> str:
    return f"sf:p:{pid}"


def history_key(pid: str) -> str:
    return f"sf:p:{pid}:h"


def person_key(person_id: str) -> str:
    return f"sf:person:{person_id}"


def ledger_key(key: str) -> str:
    return f"sf:ledger:{key}"


def day_of(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass
class Participant:
    """One person's way through one flow (a participation)."""

    id: str
    flow_id: str
    person_id: str
    version: int
    status: str
    step: str | None
    enrolled: float
    updated: float
    wait: dict[str, Any] | None = None
    reason: str = ""
    last_sending: dict[str, Any] | None = None
    running: str | None = None
    succeeded: float | None = None
    source: str = ""
    raw: dict[str, str] = field(default_factory=dict, repr=False)
    history: str = field(default="", repr=False)

    @classmethod
    def from_hash(cls, pid: str, raw: dict[str, str], history: str = "") -> Participant:
        return cls(
            id=pid,
            flow_id=raw["flow"],
            person_id=raw["person"],
            version=int(raw["version"]),
            status=raw["status"],
            step=raw.get("step") or None,
            enrolled=float(raw["enrolled"]),
            updated=float(raw.get("updated", raw["enrolled"])),
            wait=json.loads(raw["wait"]) if raw.get("wait") else None,
            reason=raw.get("reason", ""),
            last_sending={k[5:]: v for k, v in raw.items() if k.startswith("sent_")} or None,
            running=raw.get("run") or None,
            succeeded=float(raw["succeeded"]) if raw.get("succeeded") else None,
            source=raw.get("source", ""),
            raw=raw,
            history=history,
        )

    @property
    def actions(self) -> list[str]:
        """What the person did in this participation: ``"email.opened@s2"`` …"""
        acts = self.raw.get("acts", "")
        return acts.split(",") if acts else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": self.actions,
            "id": self.id,
            "flow_id": self.flow_id,
            "person_id": self.person_id,
            "version": self.version,
            "status": self.status,
            "step": self.step,
            "enrolled": self.enrolled,
            "updated": self.updated,
            "wait": self.wait,
            "reason": self.reason,
            "last_sending": self.last_sending,
            "succeeded": self.succeeded,
            "source": self.source,
        }


class Store:
    """Reads and writes of engine state on one Redis connection."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    # -- flows -------------------------------------------------------------
    def new_flow_id(self) -> str:
        return str(self.conn.incr(FLOW_SEQ))

    def flow_ids(self) -> list[str]:
        return list(self.conn.zrange(FLOWS, 0, -1))

    def flow_meta(self, flow_id: str) -> dict[str, str]:
        return self.conn.hgetall(flow_key(flow_id))

    def flow_doc(self, flow_id: str, version: int | None = None) -> dict[str, Any] | None:
        if version is None:
            raw = self.conn.hget(flow_key(flow_id), "doc")
        else:
            raw = self.conn.hget(versions_key(flow_id), str(version))
        return json.loads(raw) if raw else None

    def flow_versions(self, flow_id: str) -> list[int]:
        return sorted(int(v) for v in self.conn.hkeys(versions_key(flow_id)))

    def stats(self, flow_id: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.hgetall(stats_key(flow_id)).items()}

    def daily(self, flow_id: str, day: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.hgetall(daily_key(flow_id, day)).items()}

    # -- participants ------------------------------------------------------
    def participants(self, pids: Iterable[str]) -> dict[str, Participant]:
        pids = list(pids)
        pipe = self.conn.pipeline(transaction=False)
        for pid in pids:
            pipe.hgetall(participant_key(pid))
            pipe.get(history_key(pid))
        replies = pipe.execute()
        found = {}
        for i, pid in enumerate(pids):
            raw = replies[2 * i]
            if raw:
                found[pid] = Participant.from_hash(pid, raw, replies[2 * i + 1] or "")
        return found

    def participant(self, pid: str) -> Participant | None:
        return self.participants([pid]).get(pid)

    def flow_participant_ids(self, flow_id: str, offset: int = 0, limit: int | None = None) -> list[str]:
        """Participant ids of a flow, newest first (ids are ``<flow>.<n>``)."""
        top = int(self.conn.get(seq_key(flow_id)) or 0)
        stop = 0 if limit is None else max(0, top - offset - limit)
        return [f"{flow_id}.{n}" for n in range(top - offset, stop, -1)]

    def history(self, pid: str) -> list[dict[str, Any]]:
        text = self.conn.get(history_key(pid)) or ""
        return [decode_history(line) for line in text.splitlines() if line]

    def person_participations(self, person_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """``{person_id: {flow_id: latest participant id}}``."""
        person_ids = list(person_ids)
        pipe = self.conn.pipeline(transaction=False)
        for person_id in person_ids:
            pipe.hgetall(person_key(person_id))
        return dict(zip(person_ids, pipe.execute(), strict=True))

    def claim(self, key: str, ttl: int = 30 * 86400) -> bool:
        """At-most-once ledger: true the first time ``key`` is claimed."""
        return bool(self.conn.set(ledger_key(key), "1", nx=True, ex=ttl))


def encode_history(ts: float, step: str | None, kind: str, note: str = "") -> str:
    """A compact history entry: ``[time, step, kind, note]`` as JSON, time in whole
    seconds (participants are many: every byte counts)."""
    return json.dumps([int(ts), step or "", kind, note], separators=(",", ":"), ensure_ascii=False)


def add_history(pipe: Pipeline, p: Participant, ts: float, step: str | None, kind: str, note: str = "") -> None:
    """Add an entry to a loaded participant's history.

    The history is one string of JSON lines, rewritten whole with SET: that costs
    about a third of the Redis memory of a list (or of APPEND, which over-allocates).
    Only the job holding the participant's lease writes it, so nothing is lost.
    """
    p.history = (p.history + "\n" if p.history else "") + encode_history(ts, step, kind, note)
    pipe.set(history_key(p.id), p.history)


def set_sending(pipe: Pipeline, pid: str, sending: dict[str, Any]) -> None:
    """Store the last sending as short ``sent_*`` fields: values under 64 bytes keep
    the participant hash in Redis's compact encoding."""
    pipe.hset(participant_key(pid), mapping={f"sent_{k}": str(v) for k, v in sending.items()})


def decode_history(raw: str) -> dict[str, Any]:
    ts, step, kind, note = json.loads(raw)
    return {"at": ts, "step": step or None, "kind": kind, "note": note}


def count(pipe: Pipeline, flow_id: str, ts: float, **deltas: int) -> None:
    """Add to a flow's counters and to today's bucket for the reports."""
    for name, delta in deltas.items():
        pipe.hincrby(stats_key(flow_id), name, delta)
    for name in ("enrolled", "completed", "succeeded", "exited", "cancelled"):
        if deltas.get(name):
            pipe.hincrby(daily_key(flow_id, day_of(ts)), name, deltas[name])
