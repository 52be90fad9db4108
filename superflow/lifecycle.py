"""Every status change of a participant and of a flow, in one place.

The participant's moves — to a step, into and out of a wait, leaving a step, finishing,
succeeding — are functions on a round's :class:`~superflow.store.Changes`, so that the
engine's enrolment, its stepping and an admin's move all count them alike.  A flow's
run, pause, resume and end, and the admin's remove or move of one participant, are
:class:`Lifecycle`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from superflow import failures
from superflow import keys
from superflow import queueing
from superflow import roster
from superflow.commits import Finished
from superflow.commits import MovedOn
from superflow.engine_parts import EnginePart
from superflow.flows import FlowStateError
from superflow.flows import set_status
from superflow.leases import holds_leases
from superflow.store import Changes
from superflow.store import Participant
from superflow.waits import EVENT
from superflow.waits import GOAL
from superflow.waits import RETRY
from superflow.waits import Wait

if TYPE_CHECKING:
    from superflow.flow import Flow


def move(changes: Changes, p: Participant, flow: Flow | None, target: str | None, now: float) -> None:
    """Put the participant at ``target``; past the last step (``None``) it finishes,
    or waits the days in which success still counts."""
    if target is None:
        days = int(flow.doc["success"].get("days_after") or 0) if flow is not None else 0
        if days and flow is not None and flow.doc["success"]["criteria"] and not p.succeeded:
            until = now + days * 86400
            set_wait(changes, p, Wait(GOAL, until), now, f"success still counts for {days} days")
            changes.count(p.flow_id, now, after_last_step=1)
            return
        finish(changes, p, flow, "completed", "", now, left=True)
        return
    if any(entry[1] == target and entry[2] == "step" for entry in p.entries):
        p.visits[target] = p.visits.get(target, 1) + 1
    p.step = target
    changes.save(p, now)
    changes.count(p.flow_id, now, **{f"at:{target}": 1})


def leave(changes: Changes, p: Participant, now: float, passed: bool, note: str = "") -> None:
    """The participant leaves its step (``passed``: done with it, not cut short)."""
    if p.step:
        changes.count(p.flow_id, now, **{f"at:{p.step}": -1})
        if passed:
            changes.count(p.flow_id, now, **{f"passed:{p.step}": 1})
    if note:
        p.note(now, p.step, "resumed", note)
        changes.save(p, now)


def set_wait(changes: Changes, p: Participant, wait: Wait, now: float, note: str = "") -> None:
    """Park the participant until the wait's end (a wake-up), out of flight."""
    stored = wait.to_dict()
    p.wait = stored
    if wait.kind == RETRY:
        changes.count(p.flow_id, now, **{failures.retrying_counter(p.step or ""): 1})
    if note:
        p.note(now, p.step, "waiting", note)
    changes.save(p, now)
    changes.wake_at(p.id, stored["u"])
    changes.in_flight(p.id, False)


def end_wait(changes: Changes, p: Participant) -> None:
    """The participant waits no more: it is in flight again."""
    wait = Wait.from_dict(p.wait)
    if wait is not None and wait.kind == EVENT:
        for event_type in wait.events:
            changes.awaiting[event_type] -= 1
    if wait is not None and wait.kind == RETRY:
        changes.count(p.flow_id, p.updated, **{failures.retrying_counter(p.step or ""): -1})
    p.wait = None
    changes.wake_at(p.id, None)
    changes.in_flight(p.id, True)


def finish(
    changes: Changes,
    p: Participant,
    flow: Flow | None,
    status: str,
    reason: str,
    now: float,
    *,
    left: bool = False,
) -> None:
    """End the participation; ``left``: it already left its step (went past the last one)."""
    if p.status != "active":
        return
    wait = Wait.from_dict(p.wait)
    if wait is not None and wait.kind == GOAL:
        left = True
        changes.count(p.flow_id, now, after_last_step=-1)
    end_wait(changes, p)
    if not left:
        leave(changes, p, now, passed=False)
    p.status, p.reason = status, reason
    p.note(now, p.step, status, reason)
    changes.save(p, now)
    changes.in_flight(p.id, False)
    deltas = {"active": -1, status: 1}
    if status == "succeeded" and p.succeeded:
        deltas.pop("succeeded")
    if status == "exited" and reason:
        deltas[f"exit:{reason[:60]}"] = 1
    changes.count(p.flow_id, now, **deltas)
    changes.after.append(Finished(p, status, reason))


def succeed(changes: Changes, p: Participant, flow: Flow, now: float, note: str) -> None:
    """The flow's success criteria are met: finish, go on or move to another flow, as the flow says."""
    on_success = flow.doc["success"]["on_success"]
    if on_success == "continue":
        p.succeeded = int(now)
        p.note(now, p.step, "succeeded", note)
        changes.save(p, now)
        changes.count(p.flow_id, now, succeeded=1)
        wait = Wait.from_dict(p.wait)
        if wait is not None and wait.kind == GOAL:
            finish(changes, p, flow, "completed", "", now)
        return
    finish(changes, p, flow, "succeeded", note, now)
    if on_success == "move_to" and flow.doc["success"]["move_to_flow"]:
        changes.after.append(MovedOn(p, flow.doc["success"]["move_to_flow"]))


class Lifecycle(EnginePart):
    """Run, pause, resume and end flows; remove or move one participant from outside
    (API, admin)."""

    # -- one participant, from outside (API, admin) ----------------------------
    @holds_leases
    def remove_participant(self, pid: str, reason: str) -> Participant | None:
        """End an active participation as ``cancelled`` (history kept).  ``None``
        when a job holds the participant just now (try again)."""
        if not self.leases.take([pid]):
            return None
        changes = Changes()
        changes.delete.add(keys.lease(pid))
        p = self.store.participant(pid)
        if p is not None and p.status == "active":
            finish(
                changes, p, self.versions.flow(p.flow_id, p.version), "cancelled", reason, self.rt.clock.now()
            )
            self.rt.redis.srem(keys.parked(p.flow_id), pid)
        self.commits.commit(changes)
        return p

    @holds_leases
    def move_participant(self, pid: str, step_id: str, note: str) -> Participant | None:
        """Put an active participant at ``step_id`` of its flow version and run it
        from there.  ``None`` when a job holds the participant just now."""
        if not self.leases.take([pid]):
            return None
        changes = Changes()
        changes.delete.add(keys.lease(pid))
        p = self.store.participant(pid)
        flow = self.versions.flow(p.flow_id, p.version) if p is not None else None
        if p is not None and p.status == "active" and flow is not None and step_id in flow.steps:
            now = self.rt.clock.now()
            end_wait(changes, p)
            leave(changes, p, now, passed=False)
            p.note(now, p.step, "moved", f"{note} to {step_id}")
            move(changes, p, flow, step_id, now)
            changes.in_flight(pid, True)
            changes.advance = [pid]
            self.rt.redis.srem(keys.parked(p.flow_id), pid)
        self.commits.commit(changes)
        return p

    # -- run, pause, resume, end ---------------------------------------------
    def pause(self, flow_id: str) -> None:
        """Enrol no one and park participants where they stand."""
        self._set_status(flow_id, "paused", allowed=("running",))

    def resume(self, flow_id: str) -> int:
        """Release parked participants and enrol those who matched while paused."""
        self._set_status(flow_id, "running", allowed=("paused",))
        parked = list(self.rt.redis.smembers(keys.parked(flow_id)))
        if parked:
            changes = Changes()
            for pid in parked:
                changes.in_flight(pid, True)
            changes.delete.add(keys.parked(flow_id))
            changes.advance = parked
            self.commits.commit(changes)
        while True:
            raw = self.rt.redis.lpop(keys.pending(flow_id))
            if raw is None:
                break
            entry = json.loads(raw)
            queueing.enqueue_enrol(
                self.rt,
                flow_id,
                entry["persons"],
                entry["source"],
                entry.get("bypass", False),
                entry.get("data"),
            )
        return len(parked)

    @holds_leases
    def end(self, flow_id: str) -> int:
        """Cancel every active participant (history is kept); return how many."""
        self._set_status(flow_id, "ended", allowed=("running", "paused"))
        now = self.rt.clock.now()
        cancelled = 0
        for chunk in self._active_chunks(flow_id):
            parts = self.store.participants(chunk)
            active = [pid for pid, p in parts.items() if p.status == "active"]
            if not active:
                continue
            leased = self.leases.take(active)
            changes = Changes()
            for pid in leased:
                finish(changes, parts[pid], None, "cancelled", "flow ended", now)
            changes.delete |= {keys.lease(pid) for pid in leased}
            changes.delete |= {keys.parked(flow_id), keys.pending(flow_id)}
            changes.advance = sorted(set(active) - set(leased))
            self.commits.commit(changes)
            cancelled += len(leased)
        return cancelled

    def _active_chunks(self, flow_id: str, size: int = 1000) -> Iterator[list[str]]:
        """The flow's active participants, a thousand ids at a time: from the step
        indexes when every participant is indexed (ending a flow of a million then
        reads only its active ones), else by walking all of them."""
        conn = self.rt.redis
        counts = roster.counts(conn, flow_id)
        purged = int(conn.hget(keys.flow_stats(flow_id), "purged") or 0)
        if sum(counts["status"].values()) + purged < int(conn.get(keys.participant_seq(flow_id)) or 0):
            pids = self.store.flow_participant_ids(flow_id)
            for start in range(0, len(pids), size):
                yield pids[start : start + size]
            return
        for step_id in counts["step"]:
            key, after = keys.step_index(flow_id, step_id), "-inf"
            while found := conn.zrangebyscore(key, after, "+inf", start=0, num=size, withscores=True):
                yield [pid for pid, _ in found]
                after = f"({found[-1][1]}"

    def _set_status(self, flow_id: str, status: str, allowed: tuple[str, ...]) -> None:
        current = self.rt.redis.hget(keys.flow(flow_id), "status")
        if current is None:
            raise FlowStateError(f"no flow {flow_id}")
        if current not in allowed:
            raise FlowStateError(
                f"flow {flow_id} is {current}; it can be set {status} only when {' or '.join(allowed)}"
            )
        set_status(self.rt, flow_id, status)
