"""Enrolment: events → the person's participations and the flows' triggers → enrol.

An event first meets the person's participations (success criteria, waits for an
event, exits such as an unsubscribe), then the triggers of running flows that listen
for its type; who passes a flow's filters, its exclusion list and its re-enrolment
rule is enrolled, the first step queued in the enrolment's transaction.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING
from typing import Any

from redis.exceptions import WatchError

from superflow import keys
from superflow import queueing
from superflow import samples
from superflow.engine_parts import EnginePart
from superflow.engine_parts import Shared
from superflow.events import Event
from superflow.keys import DEFERRED_EVENTS
from superflow.leases import holds_leases
from superflow.lifecycle import end_wait
from superflow.lifecycle import finish
from superflow.lifecycle import leave
from superflow.lifecycle import move
from superflow.lifecycle import succeed
from superflow.participant_view import ParticipantView
from superflow.store import Changes
from superflow.store import Participant
from superflow.waits import EVENT
from superflow.waits import Wait

if TYPE_CHECKING:
    from superflow.flow import Flow

log = logging.getLogger(__name__)


class Enrolment(EnginePart):
    """Handles events and enrols persons, for one process's engine."""

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        # The event types that end a participation in some flow: an event of one is
        # looked up among the person's participations even when nobody waits for it.
        self._exits = {
            t for step_type in self.registry.all("step_types").values() for t in step_type.exits_on
        }

    # -- events ------------------------------------------------------------
    @holds_leases
    def handle_events(self, events: list[Event]) -> None:
        """Success criteria and waits of the person's participations first, then
        the triggers of running flows that listen to the event's type."""
        if not events:
            return
        now = self.rt.clock.now()
        types = sorted({e.type for e in events})
        pipe = self.rt.redis.pipeline(transaction=False)
        for t in types:
            pipe.smembers(keys.listening(t))
            pipe.smembers(keys.criteria(t))
        pipe.hgetall(keys.AWAITING)
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
        states = self.versions.states(flow_ids) if flow_ids else {}
        candidates: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        emitted: dict[str, float] = {}
        for event in events:
            if not event.person_id:
                continue
            for fid in listening[event.type]:
                if states.get(fid, ("",))[0] not in ("running", "paused"):
                    continue
                flow = self.versions.flow(fid, states[fid][1])
                if flow is None or flow.doc["trigger"] is None:
                    continue
                ref = flow.doc["trigger"]
                trigger = self.registry.trigger(ref["type"])
                if trigger.matches(event, self.versions.settings(trigger, ref), self.rt):
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
        leased = set(self.leases.take(sorted({pid for pids in targets.values() for pid in pids})))
        parts = self.store.participants(leased)
        changes = Changes()
        deferred: dict[str, tuple[Event, list[str]]] = {}
        for event in events:
            for pid in targets[event.id]:
                if pid not in leased:
                    deferred.setdefault(event.id, (event, []))[1].append(pid)
                elif pid in parts and parts[pid].status == "active":
                    self._apply_event(changes, parts[pid], event, judging.get(event.type, set()), now)
        changes.delete |= {keys.lease(pid) for pid in leased}
        self.commits.commit(changes)
        if deferred:
            retry_at = time.time() + 1
            entries = {
                json.dumps({"event": e.to_dict(), "pids": pids}): retry_at for e, pids in deferred.values()
            }
            self.rt.redis.zadd(DEFERRED_EVENTS, entries)

    @holds_leases
    def retry_deferred(self, entries: list[dict[str, Any]]) -> None:
        """Events that found a participation busy: apply them to it now (the
        triggers already had them)."""
        events = [Event.from_dict(entry["event"]) for entry in entries]
        only = {event.id: set(entry["pids"]) for event, entry in zip(events, entries, strict=True)}
        judging = {t: set(self.rt.redis.smembers(keys.criteria(t))) for t in {e.type for e in events}}
        self._events_for_participations(events, judging, self.rt.clock.now(), only)

    def _apply_event(
        self, changes: Changes, p: Participant, event: Event, judging: set[str], now: float
    ) -> None:
        """Record the event on the participant, then success or the end of a wait."""
        flow = self.versions.flow(p.flow_id, p.version)
        if flow is None:
            return
        if event.data.get("participant_id") == p.id:
            action = f"{event.type}@{event.data.get('step_id') or ''}"
            if action not in p.actions:
                p.actions.append(action)
            p.note(now, event.data.get("step_id"), "event", event.type)
            changes.save(p, now)
        if event.type in self.versions.exit_types(flow):
            finish(changes, p, flow, "exited", event.type, now)
            return
        if p.flow_id in judging and self.conditions.criterion_met(flow, event, p):
            succeed(changes, p, flow, now, f"success: {event.type}")
            return
        wait = Wait.from_dict(p.wait)
        if (
            wait is not None
            and wait.kind == EVENT
            and event.type in wait.events
            and p.step in flow.steps
            and self._wait_matches(flow, p, event)
        ):
            end_wait(changes, p)
            p.event_at = event.emitted_at
            leave(changes, p, now, passed=True, note=f"{event.type} arrived")
            move(changes, p, flow, flow.next_of.get(p.step or ""), now)
            if p.status == "active":
                changes.advance.append(p.id)

    def _wait_matches(self, flow: Flow, p: Participant, event: Event) -> bool:
        step = flow.steps[p.step or ""]
        step_type = self.registry.step_type(step["type"])
        return step_type.event_matches(event, self.versions.settings(step_type, step), ParticipantView.of(p))

    # -- enrolment ---------------------------------------------------------
    @holds_leases
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
        state = self.versions.states({flow_id}).get(flow_id)
        if state is None or state[0] not in ("running", "paused"):
            return []
        status, version = state
        if status == "paused":
            entry = json.dumps(
                {"persons": person_ids, "source": source, "bypass": bypass_filters, "data": event_data or {}}
            )
            self.rt.redis.rpush(keys.pending(flow_id), entry)
            return []
        flow = self.versions.flow(flow_id, version)
        if flow is None or flow.first_step is None:
            return []
        person_ids = list(dict.fromkeys(str(p) for p in person_ids))
        persons = self.rt.crm.get_persons(person_ids)
        unknown = [pid for pid in person_ids if pid not in persons]
        if unknown:
            log.warning("flow %s: no person %s in the CRM; not enrolled", flow_id, ", ".join(unknown[:10]))
        eligible = [pid for pid in person_ids if pid in persons]
        if not bypass_filters:
            passes = self.conditions.filters_pass
            eligible = [pid for pid in eligible if passes(flow.doc["filters"], persons[pid], None)]
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
        watched = [keys.person(pid) for pid in person_ids]
        while True:
            pipe = self.rt.rq_redis.pipeline()  # WATCH first, MULTI below
            try:
                pipe.watch(*watched)
                reads = self.rt.redis.pipeline(transaction=False)
                for key in watched:
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
                    elif rule == "restart" and self.leases.take([before.id]):
                        admitted.append((person_id, before))
                    elif rule == "restart":
                        log.info("flow %s: %s is busy in another job; not restarted", flow.id, before.id)
                if not admitted:
                    return []
                top = self.rt.redis.incrby(keys.participant_seq(flow.id), len(admitted))
                first = top - len(admitted) + 1
                changes = Changes()
                created = []
                for i, (person_id, restarted) in enumerate(admitted):
                    if restarted is not None:
                        finish(changes, restarted, flow, "exited", "enrolled again", now)
                        changes.delete.add(keys.lease(restarted.id))
                    p = self._create(changes, flow, f"{flow.id}.{first + i}", person_id, source, now)
                    p.event = event_data.get(person_id) or {}
                    p.event_at = emitted.get(person_id)
                    created.append(p)
                changes.advance = [p.id for p in created]
                pipe.multi()
                changes.commit(pipe, self.commits.enqueue)
                samples.remember(pipe, flow.id, created[-1].event)
                pipe.execute()
                self.leases.held -= changes.delete
            except WatchError:
                continue
            finally:
                pipe.reset()
            break
        queueing.drain_soon(self.rt)
        for p in created:
            self.registry.hook.superflow_participant_enrolled(participant=ParticipantView.of(p), flow=flow)
        self.commits.follow_up(changes.after)
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
