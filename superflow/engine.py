"""The engine: enrol, step, wait, branch, succeed, exit — in batches.

Every method here runs inside an RQ job (or a CLI command) and takes ids.  Each
round of work gathers its writes in a :class:`~superflow.store.Changes` — new
participant states, history, counters, wake-ups and the job that comes next — and
commits them in one MULTI/EXEC.  A job holds a short lease on each participant it
moves, so two jobs never move one participant at once; a job that dies leaves its
participants in the in-flight set, from which the tick hands them to a new job.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from superflow import failures, heartbeat, jobs, outages, roster, samples, store
from superflow.components import StepContext, StepResult
from superflow.events import Event
from superflow.flow import Flow, parse_flow, settings_of
from superflow.keys import DEFERRED_EVENTS, PERIODIC_NEXT, SCAN_NEXT, TICK_LOCK
from superflow.registry import UnknownComponent
from superflow.sendwindow import next_opening, zone
from superflow.store import Changes, Participant

if TYPE_CHECKING:
    from redis.client import Pipeline

    from superflow.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ROUNDS = 100
MAX_STEP_ATTEMPTS = 5
# How long a tick may hold its lock; one of a worker that stopped beating is taken at once.
TICK_LOCK_MS = 10_000
SCANNED_TO_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'scanned_to') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'scanned_to', ARGV[1]) end
return 1
"""

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


def _holds_leases(method: Any) -> Any:
    """An entry point of engine work: when its outermost call ends — committed or
    failed — the heartbeat stops renewing the leases it took, and those a failure
    left are given back (RQ's retry then takes them at once, on any worker)."""

    @functools.wraps(method)
    def run(self: Engine, *args: Any, **kwargs: Any) -> Any:
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1
            if not self._depth and self._held:
                self._release_leases()

    return run


@dataclass
class _Work:
    """One participant in one round of :meth:`Engine.advance`."""

    p: Participant
    flow: Flow
    wake: dict[str, Any] | None = None


class Engine:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.registry = runtime.registry
        self._compiled: dict[tuple[str, int], Flow | None] = {}
        self._loaded: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._exits = {
            t for step_type in self.registry.all("step_types").values() for t in step_type.exits_on
        }
        self._flow_exits: dict[tuple[str, int], set[str]] = {}
        self._token = uuid.uuid4().hex[:12]
        self._lease_script = runtime.redis.register_script(LEASE_SCRIPT)
        self._messages = store.MessageLedger(runtime.redis)
        self._renew_script = runtime.redis.register_script(RENEW_SCRIPT)
        self._release_script = runtime.redis.register_script(RELEASE_SCRIPT)
        # Lease keys this process holds now; the worker's heartbeat renews them.  The
        # lock keeps a renewal out of a commit's check that the leases are still ours.
        self._held: set[str] = set()
        self._leases_lock = threading.Lock()
        self._depth = 0

    def work_as(self, token: str) -> None:
        """Hold leases under a beating worker's token (:mod:`superflow.heartbeat`):
        when that worker stops beating, other workers may take its leases over."""
        self._token = token

    # -- flows -------------------------------------------------------------
    def flow(self, flow_id: str, version: int) -> Flow | None:
        """A compiled flow version (versions never change, so they are cached)."""
        key = (flow_id, version)
        if key not in self._compiled:
            doc = self.store.flow_doc(flow_id, version)
            self._compiled[key] = (
                None if doc is None else parse_flow(doc, self.registry, flow_id=flow_id, version=version)
            )
        return self._compiled[key]

    def _settings(self, component: Any, ref: dict[str, Any]) -> dict[str, Any]:
        """A flow part's loaded settings, loaded once per cached flow version: events
        and steps ask for the same trigger, filter and criterion settings again and
        again.  ``ref`` is the ``{type, settings}`` dict of a compiled flow."""
        hit = self._loaded.get(id(ref))
        if hit is None or hit[0] is not ref:
            hit = (ref, settings_of(component, ref["settings"]))
            self._loaded[id(ref)] = hit
        return hit[1]

    def flow_states(self, flow_ids: set[str]) -> dict[str, tuple[str, int]]:
        """``{flow_id: (status, current version)}`` read fresh."""
        ids = sorted(flow_ids)
        pipe = self.rt.redis.pipeline(transaction=False)
        for fid in ids:
            pipe.hmget(store.flow_key(fid), "status", "version")
        states = {}
        for fid, (status, version) in zip(ids, pipe.execute(), strict=True):
            if status is not None:
                states[fid] = (status, int(version))
        return states

    # -- events ------------------------------------------------------------
    @_holds_leases
    def handle_events(self, events: list[Event]) -> None:
        """Success criteria and waits of the person's participations first, then
        the triggers of running flows that listen to the event's type."""
        if not events:
            return
        now = self.rt.clock.now()
        types = sorted({e.type for e in events})
        pipe = self.rt.redis.pipeline(transaction=False)
        for t in types:
            pipe.smembers(store.listen_key(t))
            pipe.smembers(store.criteria_key(t))
        pipe.hgetall(store.AWAITING)
        replies = pipe.execute()
        awaiting = {k for k, v in replies[-1].items() if int(v) > 0}
        listening = {t: replies[2 * i] for i, t in enumerate(types)}
        judging = {t: replies[2 * i + 1] for i, t in enumerate(types)}

        exits = self._exits
        relevant = [
            e
            for e in events
            if e.person_id
            and (judging[e.type] or e.type in awaiting or e.type in exits or e.data.get("participant_id"))
        ]
        if relevant:
            self._events_for_participations(relevant, judging, now)

        flow_ids = set().union(*listening.values())
        states = self.flow_states(flow_ids) if flow_ids else {}
        candidates: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        emitted: dict[str, float] = {}
        for event in events:
            if not event.person_id:
                continue
            for fid in listening[event.type]:
                if states.get(fid, ("",))[0] not in ("running", "paused"):
                    continue
                flow = self.flow(fid, states[fid][1])
                if flow is None or flow.doc["trigger"] is None:
                    continue
                ref = flow.doc["trigger"]
                trigger = self.registry.trigger(ref["type"])
                if trigger.matches(event, self._settings(trigger, ref)):
                    candidates[(fid, event.type)][event.person_id] = event.data
                    emitted[event.person_id] = event.emitted_at
        for (fid, source), data in candidates.items():
            self.enrol(fid, list(data), source, event_data=data, emitted=emitted)

    def _events_for_participations(
        self,
        events: list[Event],
        judging: dict[str, set[str]],
        now: float,
        only: dict[str, set[str]] | None = None,
    ) -> None:
        """Apply events to the persons' participations.  One that another job holds
        just now is tried again a second later (``only`` then names it)."""
        if only is not None:
            targets = {e.id: sorted(only.get(e.id, set())) for e in events}
        else:
            index = self.store.person_participations({e.person_id for e in events if e.person_id})
            targets = {e.id: list(index.get(e.person_id or "", {}).values()) for e in events}
        leased = set(self._lease(sorted({pid for pids in targets.values() for pid in pids})))
        parts = self.store.participants(leased)
        changes = Changes()
        deferred: dict[str, tuple[Event, list[str]]] = {}
        for event in events:
            for pid in targets[event.id]:
                if pid not in leased:
                    deferred.setdefault(event.id, (event, []))[1].append(pid)
                elif pid in parts and parts[pid].status == "active":
                    self._apply_event(changes, parts[pid], event, judging.get(event.type, set()), now)
        changes.delete |= {store.lease_key(pid) for pid in leased}
        self._commit(changes)
        if deferred:
            retry_at = time.time() + 1
            entries = {
                json.dumps({"event": e.to_dict(), "pids": pids}): retry_at for e, pids in deferred.values()
            }
            self.rt.redis.zadd(DEFERRED_EVENTS, entries)

    @_holds_leases
    def retry_deferred(self, entries: list[dict[str, Any]]) -> None:
        """Events that found a participation busy: apply them to it now (the
        triggers already had them)."""
        events = [Event.from_dict(entry["event"]) for entry in entries]
        only = {event.id: set(entry["pids"]) for event, entry in zip(events, entries, strict=True)}
        judging = {t: set(self.rt.redis.smembers(store.criteria_key(t))) for t in {e.type for e in events}}
        self._events_for_participations(events, judging, self.rt.clock.now(), only)

    def _apply_event(
        self, changes: Changes, p: Participant, event: Event, judging: set[str], now: float
    ) -> None:
        """Record the event on the participant, then success or the end of a wait."""
        flow = self.flow(p.flow_id, p.version)
        if flow is None:
            return
        if event.data.get("participant_id") == p.id:
            action = f"{event.type}@{event.data.get('step_id') or ''}"
            if action not in p.actions:
                p.actions.append(action)
            p.note(now, event.data.get("step_id"), "event", event.type)
            changes.save(p, now)
        if event.type in self._flow_exit_types(flow):
            self._finish(changes, p, flow, "exited", event.type, now)
            return
        if p.flow_id in judging and self._criterion_met(flow, event, p):
            self._succeed(changes, p, flow, now, f"success: {event.type}")
            return
        waiting = p.wait or {}
        if (
            waiting.get("k") == "event"
            and event.type in waiting.get("e", [])
            and p.step in flow.steps
            and self._wait_matches(flow, p, event)
        ):
            self._end_wait(changes, p)
            p.event_at = event.emitted_at
            self._leave(changes, p, now, passed=True, note=f"{event.type} arrived")
            self._move(changes, p, flow, flow.next_of.get(p.step or ""), now)
            if p.status == "active":
                changes.advance.append(p.id)

    def _flow_exit_types(self, flow: Flow) -> set[str]:
        """The event types that end a participation in this flow: those of its steps'
        ``exits_on`` (an unsubscribe, for a flow that sends email)."""
        key = (flow.id, flow.version)
        if key not in self._flow_exits:
            self._flow_exits[key] = {
                t for step in flow.steps.values() for t in self.registry.step_type(step["type"]).exits_on
            }
        return self._flow_exits[key]

    def _criterion_met(self, flow: Flow, event: Event, p: Participant) -> bool:
        if p.succeeded:
            return False
        for ref in flow.doc["success"]["criteria"]:
            criterion = self.registry.criterion(ref["type"])
            if event.type in criterion.event_types and criterion.matches(
                event, self._settings(criterion, ref), p
            ):
                return True
        return False

    def _wait_matches(self, flow: Flow, p: Participant, event: Event) -> bool:
        step = flow.steps[p.step or ""]
        step_type = self.registry.step_type(step["type"])
        return step_type.event_matches(event, self._settings(step_type, step), p)

    # -- enrolment ---------------------------------------------------------
    @_holds_leases
    def enrol(
        self,
        flow_id: str,
        person_ids: list[str],
        source: str,
        *,
        bypass_filters: bool = False,
        event_data: dict[str, dict[str, Any]] | None = None,
        emitted: dict[str, float] | None = None,
    ) -> list[str]:
        """Enrol persons who pass the filters, the exclusion list and the
        re-enrolment rule; return the new participant ids.  ``event_data`` keeps, per
        person, the data of the event that enrolled them (merge tags read it as
        ``event``), ``emitted`` when that event was emitted (for the event → step
        latency).  A paused flow keeps the request and enrols on resume."""
        state = self.flow_states({flow_id}).get(flow_id)
        if state is None or state[0] not in ("running", "paused"):
            return []
        status, version = state
        if status == "paused":
            entry = json.dumps(
                {"persons": person_ids, "source": source, "bypass": bypass_filters, "data": event_data or {}}
            )
            self.rt.redis.rpush(store.pending_key(flow_id), entry)
            return []
        flow = self.flow(flow_id, version)
        if flow is None or flow.first_step is None:
            return []
        person_ids = list(dict.fromkeys(str(p) for p in person_ids))
        persons = self.rt.crm.get_persons(person_ids)
        unknown = [pid for pid in person_ids if pid not in persons]
        if unknown:
            log.warning("flow %s: no person %s in the CRM; not enrolled", flow_id, ", ".join(unknown[:10]))
        eligible = [pid for pid in person_ids if pid in persons]
        if not bypass_filters:
            eligible = [pid for pid in eligible if self.filters_pass(flow.doc["filters"], persons[pid], None)]
        exclusion = flow.doc.get("exclusion_selection")
        if exclusion and eligible:
            excluded = self.rt.crm.members_of(exclusion, eligible)
            eligible = [pid for pid in eligible if pid not in excluded]
        if not eligible:
            return []
        return self._enrol_eligible(flow, eligible, source, event_data or {}, emitted or {})

    def _enrol_eligible(
        self,
        flow: Flow,
        person_ids: list[str],
        source: str,
        event_data: dict[str, dict[str, Any]],
        emitted: dict[str, float],
    ) -> list[str]:
        """Create participants; WATCH on the persons' index keys keeps two jobs from
        enrolling one person twice."""
        rule = flow.doc["reenrollment"]
        keys = [store.person_key(pid) for pid in person_ids]
        while True:
            pipe = self.rt.rq_redis.pipeline()  # WATCH first, MULTI below
            try:
                pipe.watch(*keys)
                reads = self.rt.redis.pipeline(transaction=False)
                for key in keys:
                    reads.hget(key, flow.id)
                prev_pids = reads.execute()
                prev = self.store.participants([p for p in prev_pids if p])
                now = self.rt.clock.now()
                admitted: list[tuple[str, Participant | None]] = []
                for person_id, prev_pid in zip(person_ids, prev_pids, strict=True):
                    before = prev.get(prev_pid) if prev_pid else None
                    if prev_pid and before is None:
                        # Taken part, finished, and purged (SUPERFLOW_KEEP_FINISHED_DAYS).
                        if rule != "once":
                            admitted.append((person_id, None))
                        continue
                    if (
                        before is None
                        or (rule == "after_end" and before.status != "active")
                        or rule == "restart"
                        and before.status != "active"
                    ):
                        admitted.append((person_id, None))
                    elif rule == "restart" and self._lease([before.id]):
                        admitted.append((person_id, before))
                    elif rule == "restart":
                        log.info("flow %s: %s is busy in another job; not restarted", flow.id, before.id)
                if not admitted:
                    return []
                top = self.rt.redis.incrby(store.seq_key(flow.id), len(admitted))
                first = top - len(admitted) + 1
                changes = Changes()
                created = []
                for i, (person_id, restarted) in enumerate(admitted):
                    if restarted is not None:
                        self._finish(changes, restarted, flow, "exited", "enrolled again", now)
                        changes.delete.add(store.lease_key(restarted.id))
                    p = self._create(changes, flow, f"{flow.id}.{first + i}", person_id, source, now)
                    p.event = event_data.get(person_id) or {}
                    p.event_at = emitted.get(person_id)
                    created.append(p)
                changes.advance = [p.id for p in created]
                pipe.multi()
                changes.commit(pipe, self._enqueue)
                samples.remember(pipe, flow.id, created[-1].event)
                pipe.execute()
                self._held -= changes.delete
            except _watch_error():
                continue
            finally:
                pipe.reset()
            break
        jobs.drain_soon(self.rt)
        for p in created:
            self.registry.hook.superflow_participant_enrolled(participant=p, flow=flow)
        self._after(changes.after)
        return [p.id for p in created]

    def _create(
        self, changes: Changes, flow: Flow, pid: str, person_id: str, source: str, now: float
    ) -> Participant:
        p = Participant(
            id=pid,
            flow_id=flow.id,
            person_id=person_id,
            version=flow.version,
            status="active",
            step=flow.first_step,
            enrolled=now,
            updated=now,
            source=source,
        )
        p.note(now, None, "enrolled", source)
        changes.save(p, now)
        changes.person_index[person_id][flow.id] = pid
        changes.in_flight(pid, True)
        changes.count(flow.id, now, enrolled=1, active=1, **{f"at:{flow.first_step}": 1})
        return p

    def filters_pass(
        self, group: dict[str, Any], person: dict[str, Any], participant: Participant | None
    ) -> bool:
        """Evaluate a filter group (AND/OR, nested) on a person; empty passes."""
        results = []
        for cond in group.get("conditions", []):
            if "op" in cond:
                results.append(self.filters_pass(cond, person, participant))
            else:
                results.append(self.condition(cond, person, participant))
        if not results:
            return True
        return any(results) if group.get("op") == "or" else all(results)

    def condition(
        self, ref: dict[str, Any] | None, person: dict[str, Any] | None, participant: Participant | None
    ) -> bool:
        if ref is None:
            return True
        if person is None:
            return False
        filt = self.registry.filter(ref["type"])
        return bool(filt.matches(person, self._settings(filt, ref), participant))

    # -- stepping ----------------------------------------------------------
    @_holds_leases
    def advance(self, pids: list[str]) -> None:
        """Move participants through as many steps as they can go now: until each
        waits, finishes or is parked.  Safe to run again for the same ids."""
        pending = list(dict.fromkeys(pids))
        for _ in range(MAX_ROUNDS):
            if not pending:
                return
            pending = self._round(pending)
        if pending:
            log.warning(
                "%d participants still moving after %d rounds; continuing later", len(pending), MAX_ROUNDS
            )
            jobs.enqueue_advance(self.rt, pending)

    def _round(self, pids: list[str]) -> list[str]:
        leased = self._lease(pids)
        if not leased:
            return []
        parts = self.store.participants(leased)
        now = self.rt.clock.now()
        states = self.flow_states({p.flow_id for p in parts.values()})
        changes = Changes()
        changes.delete |= {store.lease_key(pid) for pid in leased}
        channels_down = outages.down(self.rt.redis)
        work: list[_Work] = []
        goals: list[_Work] = []
        for pid in leased:
            p = parts.get(pid)
            if p is None or p.status != "active":
                changes.in_flight(pid, False)
                continue
            status, version = states.get(p.flow_id, ("ended", p.version))
            if status == "ended":
                self._finish(changes, p, self.flow(p.flow_id, p.version), "cancelled", "flow ended", now)
            elif p.wait and p.wait.get("u", 0) > now and not _channel_back(p.wait, channels_down):
                changes.in_flight(pid, False)
                changes.wake_at(pid, p.wait["u"])
                if p.wait.get("c"):
                    # Woken by the end of one outage into the next: wait for this one
                    # too, or its end would not wake the participant.
                    changes.outages[p.wait["c"]][pid] = ""
            elif status == "paused":
                changes.parked[p.flow_id].add(pid)
                changes.in_flight(pid, False)
            elif p.wait and p.wait.get("k") == "goal":
                goal = _Work(p, self.flow(p.flow_id, p.version), p.wait)
                if goal.flow is None:
                    self._finish(changes, p, None, "completed", "", now)
                else:
                    goals.append(goal)
            else:
                flow = self._version_for(p, version)
                if flow is None or p.step not in flow.steps:
                    self._finish(changes, p, flow, "exited", "step no longer in the flow", now)
                else:
                    work.append(_Work(p, flow, p.wait))

        for w in work:
            if w.wake and w.wake.get("k") == "time":
                self._end_wait(changes, w.p)
                self._leave(changes, w.p, now, passed=True)
                self._move(changes, w.p, w.flow, w.flow.next_of.get(w.p.step or ""), now)
        work = [w for w in work if w.p.status == "active"]
        people = {w.p.person_id for w in work + goals}
        persons = self.rt.crm.get_persons(people) if people else {}
        for w in goals:
            self._end_of_goal_window(changes, w, persons.get(w.p.person_id), now)
        excluded = self._excluded(work)
        ready: list[_Work] = []
        for w in work:
            reason = self._reassess(w, persons.get(w.p.person_id), excluded, now)
            if reason == "":
                ready.append(w)
            elif reason.startswith("wait:"):
                self._set_wait(
                    changes, w.p, {"k": "window", "u": float(reason[5:])}, now, "outside the send window"
                )
            elif reason == "success":
                self._succeed(changes, w.p, w.flow, now, "success criteria met")
            else:
                self._finish(changes, w.p, w.flow, "exited", reason, now)

        groups: dict[tuple[str, int, str, bool], list[_Work]] = defaultdict(list)
        for w in ready:
            timed_out = bool(w.wake and w.wake.get("k") == "event")
            groups[(w.flow.id, w.flow.version, w.p.step or "", timed_out)].append(w)
        if ready:
            self._mark_running(ready)
        next_round: list[str] = []
        for n, ((_, _, step_id, timed_out), members) in enumerate(groups.items()):
            if n:
                # An earlier group may have changed these persons (the same person in two flows).
                persons.update(self.rt.crm.get_persons({w.p.person_id for w in members}))
            step = members[0].flow.steps[step_id]
            step_type = self.registry.step_type(step["type"])
            settings = self._settings(step_type, step)
            ctxs = [self._context(w, step, settings, persons.get(w.p.person_id), now) for w in members]
            results = self._run(step_type, ctxs, timed_out)
            down = channels_down | {r.channel for r in results if r.channel}
            for w, result in zip(members, results, strict=True):
                if result.action == "retry" and result.failed_on in down:
                    # One message's temporary failure on a channel that is down: it
                    # waits for the channel with the others, not on a clock of its own.
                    why = f"waiting for {result.failed_on} to work again: {result.reason}"
                    result = replace(result, channel=result.failed_on, reason=why)
                self._apply(changes, w, step, result, now)
                if w.p.status == "active" and w.p.wait is None:
                    next_round.append(w.p.id)
        changes.delete |= {store.run_key(w.p.id) for w in ready}
        self._commit(changes)
        return next_round

    def _end_of_goal_window(
        self, changes: Changes, w: _Work, person: dict[str, Any] | None, now: float
    ) -> None:
        """The days after the last step are over: a goal that holds now is met (a
        state, such as a field's value), else the participation is completed."""
        if person is not None and self._goal_holds(w.flow, person, w.p):
            self._succeed(changes, w.p, w.flow, now, "success criteria met")
            return
        self._finish(changes, w.p, w.flow, "completed", "", now)

    def _goal_holds(self, flow: Flow, person: dict[str, Any], p: Participant) -> bool:
        """A success criterion holds for the person as they are now (a state, not an event)."""
        for ref in flow.doc["success"]["criteria"]:
            criterion = self.registry.criterion(ref["type"])
            if criterion.holds(person, self._settings(criterion, ref), p):
                return True
        return False

    def _version_for(self, p: Participant, current: int) -> Flow | None:
        """Participants move to the flow's current version where their step still exists."""
        if p.version != current:
            newer = self.flow(p.flow_id, current)
            if newer is not None and p.step in newer.steps:
                p.version = current
                return newer
        return self.flow(p.flow_id, p.version)

    def _excluded(self, work: list[_Work]) -> set[tuple[str, str]]:
        by_selection: dict[str, set[str]] = defaultdict(set)
        for w in work:
            selection = w.flow.doc.get("exclusion_selection")
            if selection:
                by_selection[selection].add(w.p.person_id)
        excluded = set()
        for selection, people in by_selection.items():
            for person_id in self.rt.crm.members_of(selection, people):
                excluded.add((selection, person_id))
        return excluded

    def _reassess(
        self, w: _Work, person: dict[str, Any] | None, excluded: set[tuple[str, str]], now: float
    ) -> str:
        """Before a step: '' to go ahead, else why not ("success", "wait:<ts>" or an exit reason)."""
        p, flow = w.p, w.flow
        if person is None:
            return "person no longer in the CRM"
        selection = flow.doc.get("exclusion_selection")
        if selection and (selection, p.person_id) in excluded:
            return "in the exclusion selection"
        if not p.succeeded and self._goal_holds(flow, person, p):
            return "success"
        step_type = self.registry.step_type(flow.steps[p.step or ""]["type"])
        if step_type.sends and not (w.wake and w.wake.get("k") == "event"):
            tz = zone(person.get("timezone"), flow.doc["timezone"])
            opens = next_opening(flow.doc.get("send_window"), now, tz)
            if opens is not None:
                return f"wait:{opens}"
        return ""

    def _context(
        self,
        w: _Work,
        step: dict[str, Any],
        settings: dict[str, Any],
        person: dict[str, Any] | None,
        now: float,
    ) -> StepContext:
        return StepContext(
            participant=w.p,
            flow=w.flow,
            step=step,
            settings=settings,
            person=person,
            now=now,
            idempotency_key=f"{w.p.id}:{step['id']}"
            + (f":{w.p.visits[step['id']]}" if step["id"] in w.p.visits else ""),
            retried=w.p.running,
            services=self.rt,
            claim=self.store.claim,
            release=self.store.release,
            evaluate=lambda ref, _p=w.p, _person=person: self.condition(ref, _person, _p),
            messages=self._messages,
        )

    def _run(self, step_type: Any, ctxs: list[StepContext], timed_out: bool) -> list[StepResult]:
        try:
            if timed_out:
                return [step_type.on_timeout(ctx) for ctx in ctxs]
            results = step_type.execute_batch(ctxs)
            if len(results) != len(ctxs):
                raise RuntimeError(
                    f"step type {step_type.name} returned {len(results)} results for {len(ctxs)}"
                )
            return results
        except Exception as exc:
            log.exception("step type %s failed", step_type.name)
            reason = f"{step_type.label or step_type.name} failed: {type(exc).__name__}: {exc}"
            return [StepResult.retry(60, reason) for _ in ctxs]

    def _mark_running(self, ready: list[_Work]) -> None:
        """Note which step each participant is about to run, so that a run after a
        crash knows the step may have had its effect (``ctx.retried``)."""
        self.rt.redis.mset({store.run_key(w.p.id): w.p.step or "" for w in ready})

    def _apply(self, changes: Changes, w: _Work, step: dict[str, Any], r: StepResult, now: float) -> None:
        """Record a step's result and move the participant as it says."""
        p, flow = w.p, w.flow
        changes.metrics.step(step["type"], r)
        if p.event_at:
            changes.metrics.event_to_step(time.time() - p.event_at)
            p.event_at = None
        if p.wait is not None:
            self._end_wait(changes, p)
        if r.action != "retry":
            p.note(now, step["id"], "step", r.outcome)
        if r.counters:
            changes.count(flow.id, now, **{f"step:{step['id']}:{k}": v for k, v in r.counters.items()})
            changes.count(flow.id, now, **r.counters)
        if r.sending is not None:
            p.last_sending = dict(r.sending, at=int(now), step=step["id"])
        changes.save(p, now)
        changes.after.append(("step", p, step, r))
        if r.action == "advance":
            self._leave(changes, p, now, passed=True)
            self._move(changes, p, flow, flow.next_of.get(step["id"]), now)
        elif r.action == "wait":
            self._set_wait(changes, p, {"k": "time", "u": r.until}, now)
        elif r.action == "wait_for_event":
            self._set_wait(changes, p, {"k": "event", "u": r.until, "e": list(r.event_types)}, now)
            for event_type in r.event_types:
                changes.awaiting[event_type] += 1
        elif r.action == "branch":
            firsts = flow.branch_first.get(step["id"], [])
            index = r.branch if r.branch is not None and 0 <= r.branch < len(firsts) else len(firsts) - 1
            self._leave(changes, p, now, passed=True)
            changes.count(flow.id, now, **{f"branch:{step['id']}:{index}": 1})
            self._move(changes, p, flow, firsts[index] if firsts else flow.next_of.get(step["id"]), now)
        elif r.action == "goto" and r.goto in flow.steps:
            self._leave(changes, p, now, passed=True)
            self._move(changes, p, flow, r.goto, now)
        elif r.action == "goto":
            self._finish(changes, p, flow, "exited", f"no step {r.goto!r} to go to", now)
        elif r.action == "retry" and r.channel:
            # The channel is down: wait for it to be back, without using up an attempt.
            attempts = int((w.wake or {}).get("n", 0)) if (w.wake or {}).get("k") == "retry" else 0
            until = now + outages.RECHECK_SECONDS
            wait = {"k": "retry", "u": until, "n": attempts, "c": r.channel}
            changes.outages[r.channel][p.id] = r.reason
            self._set_wait(changes, p, wait, now, r.reason)
            self._trouble(changes, flow, step, r.reason, now)
        elif r.action == "retry":
            attempts = int((w.wake or {}).get("n", 0)) + 1 if (w.wake or {}).get("k") == "retry" else 1
            self._trouble(changes, flow, step, r.reason, now)
            if attempts >= MAX_STEP_ATTEMPTS:
                changes.trouble.failed(flow.id, step["id"])
                changes.count(flow.id, now, **{failures.failed_counter(step["id"]): 1})
                self._finish(changes, p, flow, "exited", r.reason, now)
            else:
                wait = {"k": "retry", "u": now + float(r.until or 60) * attempts, "n": attempts}
                self._set_wait(changes, p, wait, now, f"will retry: {r.reason}")
        else:
            self._finish(changes, p, flow, "exited", r.reason or "exited", now)

    def _trouble(self, changes: Changes, flow: Flow, step: dict[str, Any], reason: str, now: float) -> None:
        """Note a failure of the step, for the chart, Summary, Reports and the alert."""
        label = flow.step_label(step["id"], self.registry)
        changes.trouble.add(flow.id, step["id"], reason, now, flow_name=flow.name, step_label=label)

    # -- transitions ---------------------------------------------------------
    def _move(
        self, changes: Changes, p: Participant, flow: Flow | None, target: str | None, now: float
    ) -> None:
        if target is None:
            days = int(flow.doc["success"].get("days_after") or 0) if flow is not None else 0
            if days and flow is not None and flow.doc["success"]["criteria"] and not p.succeeded:
                until = now + days * 86400
                self._set_wait(
                    changes, p, {"k": "goal", "u": until}, now, f"success still counts for {days} days"
                )
                changes.count(p.flow_id, now, after_last_step=1)
                return
            self._finish(changes, p, flow, "completed", "", now, left=True)
            return
        if any(entry[1] == target and entry[2] == "step" for entry in p.entries):
            p.visits[target] = p.visits.get(target, 1) + 1
        p.step = target
        changes.save(p, now)
        changes.count(p.flow_id, now, **{f"at:{target}": 1})

    def _leave(self, changes: Changes, p: Participant, now: float, passed: bool, note: str = "") -> None:
        if p.step:
            changes.count(p.flow_id, now, **{f"at:{p.step}": -1})
            if passed:
                changes.count(p.flow_id, now, **{f"passed:{p.step}": 1})
        if note:
            p.note(now, p.step, "resumed", note)
            changes.save(p, now)

    def _set_wait(
        self, changes: Changes, p: Participant, wait: dict[str, Any], now: float, note: str = ""
    ) -> None:
        wait["u"] = round(float(wait["u"]), 3)
        p.wait = wait
        if wait["k"] == "retry":
            changes.count(p.flow_id, now, **{failures.retrying_counter(p.step or ""): 1})
        if note:
            p.note(now, p.step, "waiting", note)
        changes.save(p, now)
        changes.wake_at(p.id, wait["u"])
        changes.in_flight(p.id, False)

    def _end_wait(self, changes: Changes, p: Participant) -> None:
        if p.wait and p.wait.get("k") == "event":
            for event_type in p.wait.get("e", []):
                changes.awaiting[event_type] -= 1
        if p.wait and p.wait.get("k") == "retry":
            changes.count(p.flow_id, p.updated, **{failures.retrying_counter(p.step or ""): -1})
        p.wait = None
        changes.wake_at(p.id, None)
        changes.in_flight(p.id, True)

    def _finish(
        self,
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
        if p.wait and p.wait.get("k") == "goal":
            left = True
            changes.count(p.flow_id, now, after_last_step=-1)
        self._end_wait(changes, p)
        if not left:
            self._leave(changes, p, now, passed=False)
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
        changes.after.append(("finished", p, status, reason))

    def _succeed(self, changes: Changes, p: Participant, flow: Flow, now: float, note: str) -> None:
        on_success = flow.doc["success"]["on_success"]
        if on_success == "continue":
            p.succeeded = int(now)
            p.note(now, p.step, "succeeded", note)
            changes.save(p, now)
            changes.count(p.flow_id, now, succeeded=1)
            if p.wait and p.wait.get("k") == "goal":
                self._finish(changes, p, flow, "completed", "", now)
            return
        self._finish(changes, p, flow, "succeeded", note, now)
        if on_success == "move_to" and flow.doc["success"]["move_to_flow"]:
            changes.after.append(("move", p, flow.doc["success"]["move_to_flow"]))

    def _commit(self, changes: Changes) -> None:
        """Write a round's changes and its next job in one MULTI/EXEC, then tell the hooks.

        The leases the round releases are WATCHed and checked to be still ours: a
        worker taken for dead (frozen, cut off) whose participants another worker
        took over writes nothing, so that no round is ever committed twice."""
        fenced = sorted(changes.delete & self._held)
        with self._leases_lock:
            pipe = self.rt.rq_redis.pipeline()
            try:
                if fenced:
                    pipe.watch(*fenced)
                    holders = pipe.mget(fenced)
                    lost = [k for k, v in zip(fenced, holders, strict=True) if v != self._token.encode()]
                    if lost:
                        raise LeaseLost(len(lost))
                pipe.multi()
                changes.commit(pipe, self._enqueue)
                pipe.execute()
            except _watch_error():
                raise LeaseLost(len(fenced)) from None
            finally:
                pipe.reset()
            self._held -= changes.delete
        if changes.advance:
            jobs.drain_soon(self.rt)
        self._after(changes.after)
        failures.alert_admins(self.rt, changes.trouble)

    def _enqueue(self, pids: list[str], pipe: Pipeline) -> None:
        """Put the participants ready for their next step in the inbox, in the
        round's transaction; :func:`jobs.drain_soon` follows the EXEC."""
        jobs.enqueue_advance(self.rt, pids, pipeline=pipe)

    def _after(self, after: list[Any]) -> None:
        """Hooks and follow-ups, once the transitions are stored."""
        hook = self.registry.hook
        for item in after:
            try:
                if item[0] == "step":
                    _, p, step, result = item
                    hook.superflow_step_executed(participant=p, step=step, result=result)
                elif item[0] == "finished":
                    _, p, status, reason = item
                    hook.superflow_participant_finished(participant=p, status=status, reason=reason)
                elif item[0] == "move":
                    _, p, target = item
                    self.enrol(target, [p.person_id], f"moved from flow {p.flow_id}", bypass_filters=True)
            except Exception:
                log.exception("after %s of participant %s: a hook or follow-up failed", item[0], item[1].id)

    # -- leases ------------------------------------------------------------
    def _lease(self, pids: list[str]) -> list[str]:
        """Take a lease on each participant; return those this job got."""
        if not pids:
            return []
        keys = [store.lease_key(pid) for pid in pids]
        args = self._lease_args(int(self.rt.config.stuck_after_seconds * 1000))
        with self._leases_lock:
            got = self._lease_script(keys=keys, args=args)
            self._held.update(key for key, ok in zip(keys, got, strict=True) if ok)
        return [pid for pid, ok in zip(pids, got, strict=True) if ok]

    def _lease_args(self, ttl_ms: int) -> list[Any]:
        """The lease script's arguments: a lease (or the tick lock) held by a worker
        that stopped beating is taken over at once, not when it runs out."""
        return [self._token, ttl_ms, heartbeat.ALIVE_PREFIX, heartbeat.TOKEN_PREFIX]

    def renew_leases(self) -> int:
        """Extend the leases this process holds (the worker's heartbeat calls it), so
        a round that takes longer than ``SUPERFLOW_STUCK_AFTER_SECONDS`` is never
        taken for a dead one and run a second time at once.  Returns how many were
        still ours."""
        with self._leases_lock:
            keys = list(self._held)
            if not keys:
                return 0
            ttl = int(self.rt.config.stuck_after_seconds * 1000)
            return int(self._renew_script(keys=keys, args=[self._token, ttl]))

    def _release_leases(self) -> None:
        with self._leases_lock:
            keys, self._held = list(self._held), set()
        try:
            self._release_script(keys=keys, args=[self._token])
        except Exception:
            log.warning("could not give back %d leases; they run out by themselves", len(keys))

    # -- time --------------------------------------------------------------
    def tick(self, limit: int = 5000) -> dict[str, int]:
        """Hand due wake-ups, stuck participants and deferred events to jobs.

        Run every second by each worker; a lock lets one of them do it at a time.
        """
        self._probe_channels()
        if not self._lease_script(keys=[TICK_LOCK], args=self._lease_args(TICK_LOCK_MS))[0]:
            return {}
        try:
            handed = self._hand_over_dead_workers()
            jobs.drain_forgotten(self.rt)
            now = self.rt.clock.now()
            due = self.rt.redis.zrangebyscore(store.WAKEUPS, "-inf", now, start=0, num=limit)
            stale_before = time.time() - self.rt.config.stuck_after_seconds
            stuck = self.rt.redis.zrangebyscore(store.INFLIGHT, "-inf", stale_before, start=0, num=limit)
            if stuck:
                # A participant whose lease is still held is being moved by a live job
                # (its heartbeat keeps the lease): handing it to a second job would only
                # see it dropped there and its clock started again.
                holders = self.rt.redis.mget([store.lease_key(pid) for pid in stuck])
                live = heartbeat.beating(self.rt.redis, sorted({h for h in holders if h}))
                stuck = [pid for pid, holder in zip(stuck, holders, strict=True) if holder not in live]
            events = self.rt.redis.zrangebyscore(DEFERRED_EVENTS, "-inf", time.time(), start=0, num=limit)
            if due or stuck:
                changes = Changes()
                for pid in due:
                    changes.wake_at(pid, None)
                for pid in dict.fromkeys(due + stuck):
                    changes.in_flight(pid, True)
                changes.advance = list(dict.fromkeys(due + stuck))
                self._commit(changes)
            scanned = self._schedule_scans(now)
            self._schedule_periodic(now)
            purged = self.purge_finished(now)
            if events:
                pipe = self.rt.rq_redis.pipeline()
                pipe.multi()
                pipe.zrem(DEFERRED_EVENTS, *events)
                jobs.enqueue_deferred(self.rt, [json.loads(e) for e in events], pipeline=pipe)
                pipe.execute()
            return {
                "woken": len(due),
                "handed_over": handed,
                "recovered": len(stuck),
                "events": len(events),
                "scans": scanned,
                "purged": purged,
            }
        finally:
            self._release_script(keys=[TICK_LOCK], args=[self._token])

    def _probe_channels(self) -> None:
        """Ask each channel that is down (and whose probe is due) whether it works
        again; the participants that waited for the channels now back are due at once."""
        for channel in outages.claim_probes(self.rt.redis):
            working = True
            sending = getattr(self.rt, channel, None)
            if sending is not None:
                # A transport of its own: the one sending belongs to the job's thread.
                transport = type(sending)(self.rt.config)
                try:
                    working = bool(transport.probe())
                except Exception:
                    log.exception("probing %s failed", channel)
                    working = False
                finally:
                    transport.close()
            if working:
                what, waiting = outages.ended(self.rt.redis, channel, self._wake_now)
                since = float(what.get("since") or time.time())
                log.warning(
                    "%s works again after %.0f s down; %d participants go on",
                    channel,
                    time.time() - since,
                    len(waiting),
                )

    def _wake_now(self, pipe: Pipeline, pids: list[str]) -> None:
        changes = Changes()
        now = self.rt.clock.now()
        for pid in pids:
            changes.wake_at(pid, now)
        changes.commit(pipe, self._enqueue)

    def _hand_over_dead_workers(self) -> int:
        """Give the job of each worker that stopped beating to the others, at the
        front of the queue; its participants' leases are taken over as it runs.  A
        job a worker took and died with before it started is queued again too."""
        handed = len(jobs.rescue_stranded(self.rt, self.rt.config.heartbeat_seconds))
        for token, rq_name in heartbeat.dead_workers(self.rt.redis).items():
            job_id = jobs.hand_over(self.rt, rq_name)
            heartbeat.record_handover(self.rt.redis, rq_name, job_id)
            if job_id:
                handed += 1
                log.warning("worker %s stopped beating; its job %s was handed over", rq_name, job_id)
            else:
                log.info("worker %s (%s) stopped beating while idle", rq_name, token)
        return handed

    def purge_finished(self, now: float | None = None, limit: int = 1000) -> int:
        """Delete the participations that finished more than
        ``SUPERFLOW_KEEP_FINISHED_DAYS`` ago (0: keep them forever), at most ``limit``
        a call; the tick calls it.  Reports keep their counts; the person index keeps
        the participant id, so "take part once" still holds for the person."""
        days = self.rt.config.keep_finished_days
        if days <= 0:
            return 0
        now = self.rt.clock.now() if now is None else now
        pids = self.rt.redis.zrangebyscore(store.FINISHED, "-inf", now - days * 86400, start=0, num=limit)
        if not pids:
            return 0
        parts = self.store.participants(pids)
        per_flow: dict[str, int] = defaultdict(int)
        pipe = self.rt.redis.pipeline()
        for pid, p in parts.items():
            if p.status == "active":
                continue
            pipe.delete(store.participant_key(pid), store.run_key(pid))
            pipe.zrem(store.index_key(p.flow_id, store.index_of(p.status, p.step)), pid)
            per_flow[p.flow_id] += 1
        pipe.zrem(store.FINISHED, *pids)
        for flow_id, n in per_flow.items():
            pipe.hincrby(store.stats_key(flow_id), "purged", n)
        pipe.execute()
        return sum(per_flow.values())

    def _schedule_scans(self, now: float) -> int:
        """Every ``SUPERFLOW_SCAN_SECONDS`` of engine time, hand each flow whose
        trigger scans (a date reached) the window since its last scan."""
        due = self.rt.redis.get(SCAN_NEXT)
        if due is not None and float(due) > now:
            return 0
        flow_ids = sorted(self.rt.redis.smembers(store.SCANNING))
        pipe = self.rt.rq_redis.pipeline()
        pipe.multi()
        pipe.set(SCAN_NEXT, now + self.rt.config.scan_seconds)
        starts = [self.rt.redis.hget(store.flow_key(fid), "scanned_to") for fid in flow_ids]
        scanned = 0
        for fid, start in zip(flow_ids, starts, strict=True):
            begin = float(start) if start else now
            if begin < now:
                jobs.enqueue_scan(self.rt, fid, begin, now, pipeline=pipe)
                scanned += 1
        pipe.execute()
        return scanned

    def _schedule_periodic(self, now: float) -> None:
        """Queue each plugin's periodic task whose time has come."""
        tasks = self.registry.all("periodic_tasks")
        if not tasks:
            return
        names = sorted(tasks)
        due = self.rt.redis.hmget(PERIODIC_NEXT, names)
        pipe = self.rt.rq_redis.pipeline()
        pipe.multi()
        queued = 0
        for name, next_run in zip(names, due, strict=True):
            if next_run is None or float(next_run) <= now:
                pipe.hset(PERIODIC_NEXT, name, now + float(tasks[name].every_seconds))
                jobs.enqueue_periodic(self.rt, name, pipeline=pipe)
                queued += 1
        if queued:
            pipe.execute()

    def run_periodic(self, name: str) -> str:
        outcome = self.registry.get("periodic_tasks", name).run(self.rt)
        log.info("periodic task %s: %s", name, outcome)
        return outcome

    def scan(self, flow_id: str, start: float, end: float) -> list[str]:
        """Ask a flow's scanning trigger who is due in ``(start, end]`` and enrol
        them, each at most once per occasion."""
        state = self.flow_states({flow_id}).get(flow_id)
        if state is None or state[0] not in ("running", "paused"):
            return []
        flow = self.flow(flow_id, state[1])
        if flow is None or flow.doc["trigger"] is None:
            return []
        trigger = self.registry.trigger(flow.doc["trigger"]["type"])
        data: dict[str, dict[str, Any]] = {}
        for event in trigger.scan(self._settings(trigger, flow.doc["trigger"]), self.rt, start, end):
            occasion = event.data.get("occasion", "")
            if event.person_id and self.store.claim(
                f"occasion:{flow_id}:{event.person_id}:{occasion}", 400 * 86400
            ):
                data[event.person_id] = event.data
        enrolled = self.enrol(flow_id, list(data), trigger.name, event_data=data) if data else []
        # Only a scan that finished moves the mark: a failed one is scanned again next time.
        self.rt.redis.eval(SCANNED_TO_SCRIPT, 1, store.flow_key(flow_id), end)
        return enrolled

    # -- one participant, from outside (API, admin) ----------------------------
    @_holds_leases
    def remove_participant(self, pid: str, reason: str) -> Participant | None:
        """End an active participation as ``cancelled`` (history kept).  ``None``
        when a job holds the participant just now (try again)."""
        if not self._lease([pid]):
            return None
        changes = Changes()
        changes.delete.add(store.lease_key(pid))
        p = self.store.participant(pid)
        if p is not None and p.status == "active":
            self._finish(
                changes, p, self.flow(p.flow_id, p.version), "cancelled", reason, self.rt.clock.now()
            )
            self.rt.redis.srem(store.parked_key(p.flow_id), pid)
        self._commit(changes)
        return p

    @_holds_leases
    def move_participant(self, pid: str, step_id: str, note: str) -> Participant | None:
        """Put an active participant at ``step_id`` of its flow version and run it
        from there.  ``None`` when a job holds the participant just now."""
        if not self._lease([pid]):
            return None
        changes = Changes()
        changes.delete.add(store.lease_key(pid))
        p = self.store.participant(pid)
        flow = self.flow(p.flow_id, p.version) if p is not None else None
        if p is not None and p.status == "active" and flow is not None and step_id in flow.steps:
            now = self.rt.clock.now()
            self._end_wait(changes, p)
            self._leave(changes, p, now, passed=False)
            p.note(now, p.step, "moved", f"{note} to {step_id}")
            self._move(changes, p, flow, step_id, now)
            changes.in_flight(pid, True)
            changes.advance = [pid]
            self.rt.redis.srem(store.parked_key(p.flow_id), pid)
        self._commit(changes)
        return p

    # -- run, pause, resume, end ---------------------------------------------
    def pause(self, flow_id: str) -> None:
        """Enrol no one and park participants where they stand."""
        self._set_status(flow_id, "paused", allowed=("running",))

    def resume(self, flow_id: str) -> int:
        """Release parked participants and enrol those who matched while paused."""
        self._set_status(flow_id, "running", allowed=("paused",))
        parked = list(self.rt.redis.smembers(store.parked_key(flow_id)))
        if parked:
            changes = Changes()
            for pid in parked:
                changes.in_flight(pid, True)
            changes.delete.add(store.parked_key(flow_id))
            changes.advance = parked
            self._commit(changes)
        while True:
            raw = self.rt.redis.lpop(store.pending_key(flow_id))
            if raw is None:
                break
            entry = json.loads(raw)
            jobs.enqueue_enrol(
                self.rt,
                flow_id,
                entry["persons"],
                entry["source"],
                entry.get("bypass", False),
                entry.get("data"),
            )
        return len(parked)

    @_holds_leases
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
            leased = self._lease(active)
            changes = Changes()
            for pid in leased:
                self._finish(changes, parts[pid], None, "cancelled", "flow ended", now)
            changes.delete |= {store.lease_key(pid) for pid in leased}
            changes.delete |= {store.parked_key(flow_id), store.pending_key(flow_id)}
            changes.advance = sorted(set(active) - set(leased))
            self._commit(changes)
            cancelled += len(leased)
        return cancelled

    def _active_chunks(self, flow_id: str, size: int = 1000) -> Iterator[list[str]]:
        """The flow's active participants, a thousand ids at a time: from the step
        indexes when every participant is indexed (ending a flow of a million then
        reads only its active ones), else by walking all of them."""
        conn = self.rt.redis
        counts = roster.counts(conn, flow_id)
        purged = int(conn.hget(store.stats_key(flow_id), "purged") or 0)
        if sum(counts["status"].values()) + purged < int(conn.get(store.seq_key(flow_id)) or 0):
            pids = self.store.flow_participant_ids(flow_id)
            for start in range(0, len(pids), size):
                yield pids[start : start + size]
            return
        for step_id in counts["step"]:
            key, after = store.step_index_key(flow_id, step_id), "-inf"
            while found := conn.zrangebyscore(key, after, "+inf", start=0, num=size, withscores=True):
                yield [pid for pid, _ in found]
                after = f"({found[-1][1]}"

    def _set_status(self, flow_id: str, status: str, allowed: tuple[str, ...]) -> None:
        from superflow.flows import FlowStateError, set_status

        current = self.rt.redis.hget(store.flow_key(flow_id), "status")
        if current is None:
            raise FlowStateError(f"no flow {flow_id}")
        if current not in allowed:
            raise FlowStateError(
                f"flow {flow_id} is {current}; it can be set {status} only when {' or '.join(allowed)}"
            )
        set_status(self.rt, flow_id, status)

    def component_label(self, kind: str, name: str) -> str:
        try:
            return self.registry.get(kind, name).label
        except UnknownComponent:
            return name


def _channel_back(wait: dict[str, Any], down: set[str]) -> bool:
    """A wait for a channel (``"c"``) that is no longer down has ended."""
    return bool(wait.get("c")) and wait["c"] not in down


def _watch_error() -> type[Exception]:
    from redis.exceptions import WatchError

    return WatchError
