"""The engine: enrol, step, wait, branch, succeed, exit — in batches.

Every method here runs inside an RQ job (or a CLI command) and takes ids.  A
participant's transition — its new state, history entry, counters and the job
that comes next — is written in one MULTI/EXEC.  A job works on a batch of
participants and holds a short lease on each, so two jobs never move one
participant at once; a job that dies leaves its participants in the in-flight
set, from which the tick hands them to a new job.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from superflow import jobs, store
from superflow.components import StepContext, StepResult
from superflow.events import Event
from superflow.flow import Flow, parse_flow, settings_of
from superflow.registry import UnknownComponent
from superflow.sendwindow import next_opening, zone
from superflow.store import Participant, count

if TYPE_CHECKING:
    from redis.client import Pipeline

    from superflow.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ROUNDS = 100
MAX_STEP_ATTEMPTS = 5
TICK_LOCK = "sf:tick:lock"
DEFERRED_EVENTS = "sf:deferred-events"
AWAITING = "sf:awaiting"


@dataclass
class _Work:
    """One participant in one round of :meth:`Engine.advance`."""

    p: Participant
    flow: Flow
    step_id: str | None
    wake: dict[str, Any] | None = None


class Engine:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.registry = runtime.registry
        self._compiled: dict[tuple[str, int], Flow | None] = {}
        self._token = uuid.uuid4().hex[:12]

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
        pipe.hgetall(AWAITING)
        replies = pipe.execute()
        awaiting = {k for k, v in replies[-1].items() if int(v) > 0}
        listening = {t: replies[2 * i] for i, t in enumerate(types)}
        judging = {t: replies[2 * i + 1] for i, t in enumerate(types)}

        relevant = [
            e
            for e in events
            if e.person_id and (judging[e.type] or e.type in awaiting or e.data.get("participant_id"))
        ]
        if relevant:
            self._events_for_participations(relevant, judging, now)

        candidates: dict[str, list[tuple[str, str]]] = defaultdict(list)
        flow_ids = set().union(*listening.values())
        states = self.flow_states(flow_ids) if flow_ids else {}
        for event in events:
            if not event.person_id:
                continue
            for fid in listening[event.type]:
                if fid not in states or states[fid][0] not in ("running", "paused"):
                    continue
                flow = self.flow(fid, states[fid][1])
                if flow is None or flow.doc["trigger"] is None:
                    continue
                ref = flow.doc["trigger"]
                trigger = self.registry.trigger(ref["type"])
                if trigger.matches(event, settings_of(trigger, ref["settings"])):
                    candidates[fid].append((event.person_id, event.type))
        for fid, people in candidates.items():
            by_source: dict[str, list[str]] = defaultdict(list)
            for person_id, source in people:
                by_source[source].append(person_id)
            for source, person_ids in by_source.items():
                self.enrol(fid, person_ids, source)

    def _events_for_participations(
        self, events: list[Event], judging: dict[str, set[str]], now: float
    ) -> None:
        index = self.store.person_participations({e.person_id for e in events if e.person_id})
        pids = {pid for flows in index.values() for pid in flows.values()}
        parts = self.store.participants(pids)
        deferred: list[Event] = []
        for event in events:
            mine = [parts[pid] for pid in index.get(event.person_id, {}).values() if pid in parts]
            for p in mine:
                if p.status != "active":
                    continue
                if not self._apply_event(p, event, judging.get(event.type, set()), now):
                    deferred.append(event)
        if deferred:
            retry_at = time.time() + 1
            self.rt.redis.zadd(DEFERRED_EVENTS, {json.dumps(e.to_dict()): retry_at for e in deferred})

    def _apply_event(self, p: Participant, event: Event, judging: set[str], now: float) -> bool:
        """Record, judge and resume one participant; False when it is busy elsewhere."""
        own = event.data.get("participant_id") == p.id
        flow = self.flow(p.flow_id, p.version)
        if flow is None:
            return True
        succeeded = p.flow_id in judging and self._criterion_met(flow, event, p)
        waiting = p.wait or {}
        resumes = (
            not succeeded
            and waiting.get("k") == "event"
            and event.type in waiting.get("e", [])
            and p.step in flow.steps
            and self._wait_matches(flow, p, event)
        )
        if not (own or succeeded or resumes):
            return True
        if not self._lease([p.id]):
            return False
        pipe = self._transaction()
        if own:
            action = f"{event.type}@{event.data.get('step_id') or ''}"
            if action not in p.actions:
                p.raw["acts"] = ",".join([*p.actions, action])
                pipe.hset(store.participant_key(p.id), "acts", p.raw["acts"])
            store.add_history(pipe, p, now, event.data.get("step_id"), "event", event.type)
        after: list[Any] = []
        if succeeded:
            after = self._succeed(pipe, p, flow, now, f"success: {event.type}")
        elif resumes:
            self._end_wait(pipe, p)
            target = flow.next_of.get(p.step or "")
            self._leave(pipe, p, now, passed=True, note=f"{event.type} arrived")
            after = self._move(pipe, p, flow, target, now)
            if p.status == "active":
                jobs.enqueue_advance(self.rt, [p.id], pipeline=pipe)
        self._release(pipe, [p.id])
        pipe.execute()
        self._after(after)
        return True

    def _criterion_met(self, flow: Flow, event: Event, p: Participant) -> bool:
        if p.succeeded:
            return False
        for ref in flow.doc["success"]["criteria"]:
            criterion = self.registry.criterion(ref["type"])
            if event.type in criterion.event_types and criterion.matches(
                event, settings_of(criterion, ref["settings"]), p
            ):
                return True
        return False

    def _wait_matches(self, flow: Flow, p: Participant, event: Event) -> bool:
        step = flow.steps[p.step or ""]
        step_type = self.registry.step_type(step["type"])
        return step_type.event_matches(event, settings_of(step_type, step["settings"]), p)

    # -- enrolment ---------------------------------------------------------
    def enrol(
        self, flow_id: str, person_ids: list[str], source: str, *, bypass_filters: bool = False
    ) -> list[str]:
        """Enrol persons who pass the filters, the exclusion list and the
        re-enrolment rule; return the new participant ids.  A paused flow keeps the
        request and enrols on resume."""
        state = self.flow_states({flow_id}).get(flow_id)
        if state is None or state[0] not in ("running", "paused"):
            return []
        status, version = state
        if status == "paused":
            entry = json.dumps({"persons": person_ids, "source": source, "bypass": bypass_filters})
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
        return self._enrol_eligible(flow, eligible, source)

    def _enrol_eligible(self, flow: Flow, person_ids: list[str], source: str) -> list[str]:
        rule = flow.doc["reenrollment"]
        keys = [store.person_key(pid) for pid in person_ids]
        while True:
            pipe = self.rt.rq_redis.pipeline()  # WATCH first, MULTI below
            try:
                pipe.watch(*keys)
                previous = [pipe.hget(k, flow.id) for k in keys]
                prev_pids = [p.decode() if p else None for p in previous]
                prev = self.store.participants([p for p in prev_pids if p])
                now = self.rt.clock.now()
                admitted: list[tuple[str, Participant | None]] = []
                for person_id, prev_pid in zip(person_ids, prev_pids, strict=True):
                    before = prev.get(prev_pid) if prev_pid else None
                    if before is None or rule == "after_end" and before.status != "active":
                        admitted.append((person_id, None))
                    elif rule == "restart":
                        admitted.append((person_id, before if before.status == "active" else None))
                if not admitted:
                    pipe.reset()
                    return []
                top = self.rt.redis.incrby(store.seq_key(flow.id), len(admitted))
                first = top - len(admitted) + 1
                new_pids = [f"{flow.id}.{first + i}" for i in range(len(admitted))]
                pipe.multi()
                finished: list[Any] = []
                for pid, (person_id, restarted) in zip(new_pids, admitted, strict=True):
                    if restarted is not None:
                        finished += self._finish(pipe, restarted, flow, "exited", "enrolled again", now)
                    self._create(pipe, flow, pid, person_id, source, now)
                jobs.enqueue_advance(self.rt, new_pids, pipeline=pipe)
                pipe.execute()
            except _watch_error():
                continue
            finally:
                pipe.reset()
            break
        created = self.store.participants(new_pids)
        for pid in new_pids:
            if pid in created:
                self.registry.hook.superflow_participant_enrolled(participant=created[pid], flow=flow)
        self._after(finished)
        return new_pids

    def _create(self, pipe: Pipeline, flow: Flow, pid: str, person_id: str, source: str, now: float) -> None:
        pipe.hset(
            store.participant_key(pid),
            mapping={
                "flow": flow.id,
                "person": person_id,
                "version": flow.version,
                "status": "active",
                "step": flow.first_step or "",
                "enrolled": int(now),
                "updated": int(now),
                "source": source,
            },
        )
        pipe.set(store.history_key(pid), store.encode_history(now, None, "enrolled", source))
        pipe.hset(store.person_key(person_id), flow.id, pid)
        pipe.zadd(store.INFLIGHT, {pid: time.time()})
        count(pipe, flow.id, now, enrolled=1, active=1, **{f"at:{flow.first_step}": 1})

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
        return bool(filt.matches(person, settings_of(filt, ref["settings"]), participant))

    # -- stepping ----------------------------------------------------------
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
                "%d participants still moving after %d rounds; continuing in a new job",
                len(pending),
                MAX_ROUNDS,
            )
            jobs.enqueue_advance(self.rt, pending)

    def _round(self, pids: list[str]) -> list[str]:
        leased = self._lease(pids)
        if not leased:
            return []
        parts = self.store.participants(leased)
        now = self.rt.clock.now()
        states = self.flow_states({p.flow_id for p in parts.values()})
        pipe = self._transaction()
        after: list[Any] = []
        work: list[_Work] = []
        for pid in leased:
            p = parts.get(pid)
            if p is None or p.status != "active":
                pipe.zrem(store.INFLIGHT, pid)
                continue
            status, version = states.get(p.flow_id, ("ended", p.version))
            if status == "ended":
                after += self._finish(
                    pipe, p, self.flow(p.flow_id, p.version), "cancelled", "flow ended", now
                )
                continue
            if p.wait and p.wait.get("u", 0) > now:
                pipe.zrem(store.INFLIGHT, pid)
                pipe.zadd(store.WAKEUPS, {pid: p.wait["u"]})
                continue
            if status == "paused":
                pipe.sadd(store.parked_key(p.flow_id), pid)
                pipe.zrem(store.INFLIGHT, pid)
                continue
            flow = self._version_for(p, version)
            if flow is None or p.step not in flow.steps:
                after += self._finish(pipe, p, flow, "exited", "step no longer in the flow", now)
                continue
            work.append(_Work(p, flow, p.step, p.wait))

        persons = self.rt.crm.get_persons({w.p.person_id for w in work}) if work else {}
        excluded = self._excluded(work)
        ready: list[_Work] = []
        for w in work:
            p, flow = w.p, w.flow
            if w.wake and w.wake.get("k") == "time":
                self._end_wait(pipe, p)
                self._leave(pipe, p, now, passed=True)
                after += self._move(pipe, p, flow, flow.next_of.get(w.step_id or ""), now)
                w.step_id = p.step
                if p.status != "active":
                    continue
            person = persons.get(p.person_id)
            reason = self._reassess(w, person, excluded, now)
            if reason == "":
                ready.append(w)
            elif reason.startswith("wait:"):
                until = float(reason[5:])
                self._set_wait(pipe, p, {"k": "window", "u": until}, now, "outside the send window")
            elif reason == "success":
                after += self._succeed(pipe, p, flow, now, "success criteria met")
            else:
                after += self._finish(pipe, p, flow, "exited", reason, now)

        next_round: list[str] = []
        groups: dict[tuple[str, int, str], list[_Work]] = defaultdict(list)
        for w in ready:
            groups[(w.flow.id, w.flow.version, w.step_id or "")].append(w)
        if groups:
            self._mark_running(ready)
        for (_, _, step_id), members in groups.items():
            flow = members[0].flow
            step = flow.steps[step_id]
            step_type = self.registry.step_type(step["type"])
            settings = settings_of(step_type, step["settings"])
            timeouts = [w for w in members if w.wake and w.wake.get("k") == "event"]
            fresh = [w for w in members if not (w.wake and w.wake.get("k") == "event")]
            for batch, timed_out in ((fresh, False), (timeouts, True)):
                if not batch:
                    continue
                ctxs = [self._context(w, step, settings, persons.get(w.p.person_id), now) for w in batch]
                results = self._run(step_type, ctxs, timed_out)
                for w, result in zip(batch, results, strict=True):
                    after += self._apply(pipe, w, step, result, now)
                    if w.p.status == "active" and w.p.wait is None and w.p.step:
                        next_round.append(w.p.id)
        self._release(pipe, leased)
        pipe.execute()
        self._after(after)
        return next_round

    def _version_for(self, p: Participant, current: int) -> Flow | None:
        """Participants move to the flow's current version where their step still exists."""
        if p.version != current:
            newer = self.flow(p.flow_id, current)
            if newer is not None and p.step in newer.steps:
                p.version = current
                p.raw["version_changed"] = "1"
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
        if not p.succeeded:
            for ref in flow.doc["success"]["criteria"]:
                criterion = self.registry.criterion(ref["type"])
                if criterion.holds(person, settings_of(criterion, ref["settings"]), p):
                    return "success"
        step_type = self.registry.step_type(flow.steps[w.step_id or ""]["type"])
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
            idempotency_key=f"{w.p.id}:{step['id']}",
            retried=w.p.running == step["id"],
            services=self.rt,
            claim=self.store.claim,
            evaluate=lambda ref, _p=w.p, _person=person: self.condition(ref, _person, _p),
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
        pipe = self.rt.redis.pipeline(transaction=False)
        for w in ready:
            pipe.hset(store.participant_key(w.p.id), "run", w.step_id or "")
        pipe.execute()

    def _apply(self, pipe: Pipeline, w: _Work, step: dict[str, Any], r: StepResult, now: float) -> list[Any]:
        """Record a step's result and move the participant as it says."""
        p, flow = w.p, w.flow
        if p.wait is not None:
            self._end_wait(pipe, p)
        pipe.hdel(store.participant_key(p.id), "run")
        if r.action != "retry":
            store.add_history(pipe, p, now, step["id"], "step", r.outcome)
        for name, delta in r.counters.items():
            store_deltas = {f"step:{step['id']}:{name}": delta, name: delta}
            count(pipe, flow.id, now, **store_deltas)
        if r.sending is not None:
            store.set_sending(pipe, p.id, dict(r.sending, at=int(now), step=step["id"]))
        after: list[Any] = [("step", p, step, r)]
        if r.action == "advance":
            self._leave(pipe, p, now, passed=True)
            after += self._move(pipe, p, flow, flow.next_of.get(step["id"]), now)
        elif r.action == "wait":
            self._set_wait(pipe, p, {"k": "time", "u": r.until}, now)
        elif r.action == "wait_for_event":
            self._set_wait(pipe, p, {"k": "event", "u": r.until, "e": list(r.event_types)}, now)
            for event_type in r.event_types:
                pipe.hincrby(AWAITING, event_type, 1)
        elif r.action == "branch":
            firsts = flow.branch_first.get(step["id"], [])
            index = r.branch if r.branch is not None and 0 <= r.branch < len(firsts) else len(firsts) - 1
            self._leave(pipe, p, now, passed=True)
            pipe.hincrby(store.stats_key(flow.id), f"branch:{step['id']}:{index}", 1)
            after += self._move(pipe, p, flow, firsts[index] if firsts else flow.next_of.get(step["id"]), now)
        elif r.action == "goto":
            if r.goto not in flow.steps:
                after += self._finish(pipe, p, flow, "exited", f"no step {r.goto!r} to go to", now)
            else:
                self._leave(pipe, p, now, passed=True)
                after += self._move(pipe, p, flow, r.goto, now)
        elif r.action == "retry":
            attempts = int((w.wake or {}).get("n", 0)) + 1 if (w.wake or {}).get("k") == "retry" else 1
            if attempts >= MAX_STEP_ATTEMPTS:
                after += self._finish(pipe, p, flow, "exited", r.reason, now)
            else:
                wait = {"k": "retry", "u": now + float(r.until or 60) * attempts, "n": attempts}
                self._set_wait(pipe, p, wait, now, f"will retry: {r.reason}")
        else:
            after += self._finish(pipe, p, flow, "exited", r.reason or "exited", now)
        return after

    # -- transitions (all on a pipeline) -----------------------------------
    def _move(
        self, pipe: Pipeline, p: Participant, flow: Flow | None, target: str | None, now: float
    ) -> list[Any]:
        if target is None:
            return self._finish(pipe, p, flow, "completed", "", now)
        p.step = target
        mapping: dict[str, Any] = {"step": target, "updated": int(now)}
        if p.raw.get("version_changed"):
            mapping["version"] = p.version
        pipe.hset(store.participant_key(p.id), mapping=mapping)
        pipe.hincrby(store.stats_key(p.flow_id), f"at:{target}", 1)
        return []

    def _leave(self, pipe: Pipeline, p: Participant, now: float, passed: bool, note: str = "") -> None:
        if p.step:
            pipe.hincrby(store.stats_key(p.flow_id), f"at:{p.step}", -1)
            if passed:
                pipe.hincrby(store.stats_key(p.flow_id), f"passed:{p.step}", 1)
        if note:
            store.add_history(pipe, p, now, p.step, "resumed", note)

    def _set_wait(
        self, pipe: Pipeline, p: Participant, wait: dict[str, Any], now: float, note: str = ""
    ) -> None:
        wait["u"] = round(float(wait["u"]), 3)
        p.wait = wait
        pipe.hset(
            store.participant_key(p.id),
            mapping={"wait": json.dumps(wait, separators=(",", ":")), "updated": int(now)},
        )
        pipe.zadd(store.WAKEUPS, {p.id: wait["u"]})
        pipe.zrem(store.INFLIGHT, p.id)
        if note:
            store.add_history(pipe, p, now, p.step, "waiting", note)

    def _end_wait(self, pipe: Pipeline, p: Participant) -> None:
        if p.wait and p.wait.get("k") == "event":
            for event_type in p.wait.get("e", []):
                pipe.hincrby(AWAITING, event_type, -1)
        p.wait = None
        pipe.hdel(store.participant_key(p.id), "wait")
        pipe.zrem(store.WAKEUPS, p.id)
        pipe.zadd(store.INFLIGHT, {p.id: time.time()})

    def _finish(
        self, pipe: Pipeline, p: Participant, flow: Flow | None, status: str, reason: str, now: float
    ) -> list[Any]:
        if p.status != "active":
            return []
        self._end_wait(pipe, p)
        self._leave(pipe, p, now, passed=False)
        p.status, p.reason = status, reason
        pipe.hset(
            store.participant_key(p.id),
            mapping={"status": status, "reason": reason, "updated": int(now)},
        )
        pipe.hdel(store.participant_key(p.id), "run")
        store.add_history(pipe, p, now, p.step, status, reason)
        pipe.zrem(store.INFLIGHT, p.id)
        deltas = {"active": -1, status: 1}
        if status == "succeeded" and p.succeeded:
            deltas.pop("succeeded")
        if status == "exited" and reason:
            deltas[f"exit:{reason[:60]}"] = 1
        count(pipe, p.flow_id, now, **deltas)
        return [("finished", p, status, reason)]

    def _succeed(self, pipe: Pipeline, p: Participant, flow: Flow, now: float, note: str) -> list[Any]:
        on_success = flow.doc["success"]["on_success"]
        if on_success == "continue":
            p.succeeded = now
            pipe.hset(store.participant_key(p.id), "succeeded", round(now, 3))
            store.add_history(pipe, p, now, p.step, "succeeded", note)
            count(pipe, p.flow_id, now, succeeded=1)
            return []
        after = self._finish(pipe, p, flow, "succeeded", note, now)
        if on_success == "move_to" and flow.doc["success"]["move_to_flow"]:
            after.append(("move", p, flow.doc["success"]["move_to_flow"]))
        return after

    def _after(self, after: list[Any]) -> None:
        """Hooks and follow-ups, once the transitions are stored."""
        hook = self.registry.hook
        for item in after:
            if item[0] == "step":
                _, p, step, result = item
                hook.superflow_step_executed(participant=p, step=step, result=result)
            elif item[0] == "finished":
                _, p, status, reason = item
                hook.superflow_participant_finished(participant=p, status=status, reason=reason)
            elif item[0] == "move":
                _, p, target = item
                self.enrol(target, [p.person_id], f"moved from flow {p.flow_id}", bypass_filters=True)

    def _transaction(self) -> Pipeline:
        """A MULTI/EXEC pipeline on the connection RQ uses, so jobs can join it."""
        pipe = self.rt.rq_redis.pipeline()
        pipe.multi()
        return pipe

    # -- leases ------------------------------------------------------------
    def _lease(self, pids: list[str]) -> list[str]:
        """Take a lease on each participant; return those this job got."""
        ttl = int(self.rt.config.stuck_after_seconds * 1000)
        pipe = self.rt.redis.pipeline(transaction=False)
        for pid in pids:
            pipe.set(f"sf:lease:{pid}", self._token, nx=True, px=ttl)
        got = pipe.execute()
        mine = [pid for pid, ok in zip(pids, got, strict=True) if ok]
        busy = [pid for pid, ok in zip(pids, got, strict=True) if not ok]
        if busy:
            pipe = self.rt.redis.pipeline(transaction=False)
            for pid in busy:
                pipe.get(f"sf:lease:{pid}")
            for pid, owner in zip(busy, pipe.execute(), strict=True):
                if owner == self._token:
                    mine.append(pid)
        return mine

    def _release(self, pipe: Pipeline, pids: list[str]) -> None:
        for pid in pids:
            pipe.delete(f"sf:lease:{pid}")

    # -- time --------------------------------------------------------------
    def tick(self, limit: int = 5000) -> dict[str, int]:
        """Hand due wake-ups, stuck participants and deferred events to jobs.

        Run every second by each worker; a lock lets one of them do it at a time.
        """
        if not self.rt.redis.set(TICK_LOCK, self._token, nx=True, px=10_000):
            return {}
        try:
            now = self.rt.clock.now()
            due = self.rt.redis.zrangebyscore(store.WAKEUPS, "-inf", now, start=0, num=limit)
            stale_before = time.time() - self.rt.config.stuck_after_seconds
            stuck = self.rt.redis.zrangebyscore(store.INFLIGHT, "-inf", stale_before, start=0, num=limit)
            events = self.rt.redis.zrangebyscore(DEFERRED_EVENTS, "-inf", time.time(), start=0, num=limit)
            if due or stuck:
                pipe = self._transaction()
                if due:
                    pipe.zrem(store.WAKEUPS, *due)
                moving = list(dict.fromkeys(due + stuck))
                pipe.zadd(store.INFLIGHT, {pid: time.time() for pid in moving})
                jobs.enqueue_advance(self.rt, moving, pipeline=pipe)
                pipe.execute()
            if events:
                pipe = self._transaction()
                pipe.zrem(DEFERRED_EVENTS, *events)
                jobs.enqueue_events(self.rt, [Event.from_dict(json.loads(e)) for e in events], pipeline=pipe)
                pipe.execute()
            return {"woken": len(due), "recovered": len(stuck), "events": len(events)}
        finally:
            self.rt.redis.delete(TICK_LOCK)

    # -- run, pause, resume, end ---------------------------------------------
    def pause(self, flow_id: str) -> None:
        """Enrol no one and park participants where they stand."""
        self._set_status(flow_id, "paused", allowed=("running",))

    def resume(self, flow_id: str) -> int:
        """Release parked participants and enrol those who matched while paused."""
        self._set_status(flow_id, "running", allowed=("paused",))
        parked = list(self.rt.redis.smembers(store.parked_key(flow_id)))
        if parked:
            pipe = self._transaction()
            pipe.delete(store.parked_key(flow_id))
            pipe.zadd(store.INFLIGHT, {pid: time.time() for pid in parked})
            jobs.enqueue_advance(self.rt, parked, pipeline=pipe)
            pipe.execute()
        while True:
            raw = self.rt.redis.lpop(store.pending_key(flow_id))
            if raw is None:
                break
            entry = json.loads(raw)
            jobs.enqueue_enrol(
                self.rt, flow_id, entry["persons"], entry["source"], entry.get("bypass", False)
            )
        return len(parked)

    def end(self, flow_id: str) -> int:
        """Cancel every active participant (history is kept); return how many."""
        self._set_status(flow_id, "ended", allowed=("running", "paused"))
        now = self.rt.clock.now()
        cancelled = 0
        pids = self.store.flow_participant_ids(flow_id)
        for start in range(0, len(pids), 1000):
            chunk = pids[start : start + 1000]
            pipe = self.rt.redis.pipeline(transaction=False)
            for pid in chunk:
                pipe.hget(store.participant_key(pid), "status")
            active = [pid for pid, s in zip(chunk, pipe.execute(), strict=True) if s == "active"]
            if not active:
                continue
            leased = self._lease(active)
            busy = sorted(set(active) - set(leased))
            parts = self.store.participants(leased)
            pipe = self._transaction()
            after: list[Any] = []
            for p in parts.values():
                after += self._finish(pipe, p, None, "cancelled", "flow ended", now)
            pipe.delete(store.parked_key(flow_id), store.pending_key(flow_id))
            self._release(pipe, leased)
            if busy:
                jobs.enqueue_advance(self.rt, busy, pipeline=pipe)
            pipe.execute()
            self._after(after)
            cancelled += len(after)
        return cancelled

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


def _watch_error() -> type[Exception]:
    from redis.exceptions import WatchError

    return WatchError
