"""Stepping: a round of steps for a batch of participants, one commit per round.

A round reassesses each participant before acting (flow still running? success
reached? still wanted? inside the send window?), runs each step type once for all
its participants at that step, records each result and moves the participant as it
says — a wait schedules a wake-up, a split picks a branch — and commits the round's
writes and next job in one MULTI/EXEC.  :meth:`Stepping.advance` goes round after
round until each participant waits, finishes or is parked.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from superflow import failures
from superflow import keys
from superflow import outages
from superflow import queueing
from superflow import store
from superflow.commits import StepDone
from superflow.components import StepContext
from superflow.components import StepResult
from superflow.counters import step_field
from superflow.engine_parts import EnginePart
from superflow.engine_parts import Shared
from superflow.leases import holds_leases
from superflow.lifecycle import end_wait
from superflow.lifecycle import finish
from superflow.lifecycle import leave
from superflow.lifecycle import move
from superflow.lifecycle import set_wait
from superflow.lifecycle import succeed
from superflow.sendwindow import next_opening
from superflow.sendwindow import zone
from superflow.store import Changes
from superflow.store import Participant
from superflow.waits import EVENT
from superflow.waits import GOAL
from superflow.waits import RETRY
from superflow.waits import TIME
from superflow.waits import WINDOW
from superflow.waits import Wait

if TYPE_CHECKING:
    from superflow.flow import Flow

log = logging.getLogger(__name__)

MAX_ROUNDS = 100
MAX_STEP_ATTEMPTS = 5


@dataclass(slots=True)
class _Work:
    """One participant in one round of :meth:`Stepping.advance`; ``wake`` is the wait
    it was woken from."""

    p: Participant
    flow: Flow
    wake: Wait | None = None


@dataclass(frozen=True, slots=True)
class OutsideWindow:
    """Reassessed: the step sends, and the send window opens at ``opens``."""

    opens: float


@dataclass(frozen=True, slots=True)
class GoalMet:
    """Reassessed: the flow's success criteria hold for the person now."""


@dataclass(frozen=True, slots=True)
class Exit:
    """Reassessed: the participant leaves the flow, for ``reason``."""

    reason: str


Verdict = OutsideWindow | GoalMet | Exit
"""Why a participant does not take its step now (``None``: it goes ahead)."""


class Stepping(EnginePart):
    """Moves participants through their flows' steps, for one process's engine."""

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        self._messages = store.MessageLedger(shared.runtime.redis)

    @holds_leases
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
            queueing.enqueue_advance(self.rt, pending)

    def _round(self, pids: list[str]) -> list[str]:
        leased = self.leases.take(pids)
        if not leased:
            return []
        parts = self.store.participants(leased)
        now = self.rt.clock.now()
        states = self.versions.states({p.flow_id for p in parts.values()})
        changes = Changes()
        changes.delete |= {keys.lease(pid) for pid in leased}
        channels_down = outages.down(self.rt.redis)
        work: list[_Work] = []
        goals: list[_Work] = []
        for pid in leased:
            p = parts.get(pid)
            if p is None or p.status != "active":
                changes.in_flight(pid, False)
                continue
            status, version = states.get(p.flow_id, ("ended", p.version))
            wait = Wait.from_dict(p.wait)
            if status == "ended":
                finish(changes, p, self.versions.flow(p.flow_id, p.version), "cancelled", "flow ended", now)
            elif wait is not None and wait.until > now and not _channel_back(wait, channels_down):
                changes.in_flight(pid, False)
                changes.wake_at(pid, wait.until)
                if wait.channel:
                    # Woken by the end of one outage into the next: wait for this one
                    # too, or its end would not wake the participant.
                    changes.outages[wait.channel][pid] = ""
            elif status == "paused":
                changes.parked[p.flow_id].add(pid)
                changes.in_flight(pid, False)
            elif wait is not None and wait.kind == GOAL:
                goal = _Work(p, self.versions.flow(p.flow_id, p.version), wait)
                if goal.flow is None:
                    finish(changes, p, None, "completed", "", now)
                else:
                    goals.append(goal)
            else:
                flow = self._version_for(p, version)
                if flow is None or p.step not in flow.steps:
                    finish(changes, p, flow, "exited", "step no longer in the flow", now)
                else:
                    work.append(_Work(p, flow, wait))

        for w in work:
            if w.wake is not None and w.wake.kind == TIME:
                end_wait(changes, w.p)
                leave(changes, w.p, now, passed=True)
                move(changes, w.p, w.flow, w.flow.next_of.get(w.p.step or ""), now)
        work = [w for w in work if w.p.status == "active"]
        people = {w.p.person_id for w in work + goals}
        persons = self.rt.crm.get_persons(people) if people else {}
        for w in goals:
            self._end_of_goal_window(changes, w, persons.get(w.p.person_id), now)
        excluded = self._excluded(work)
        ready: list[_Work] = []
        for w in work:
            match self._reassess(w, persons.get(w.p.person_id), excluded, now):
                case None:
                    ready.append(w)
                case OutsideWindow(opens=opens):
                    set_wait(changes, w.p, Wait(WINDOW, opens), now, "outside the send window")
                case GoalMet():
                    succeed(changes, w.p, w.flow, now, "success criteria met")
                case Exit(reason=reason):
                    finish(changes, w.p, w.flow, "exited", reason, now)

        groups: dict[tuple[str, int, str, bool], list[_Work]] = defaultdict(list)
        for w in ready:
            timed_out = w.wake is not None and w.wake.kind == EVENT
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
            settings = self.versions.settings(step_type, step)
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
        changes.delete |= {keys.run_marker(w.p.id) for w in ready}
        self.commits.commit(changes)
        return next_round

    def _end_of_goal_window(
        self, changes: Changes, w: _Work, person: dict[str, Any] | None, now: float
    ) -> None:
        """The days after the last step are over: a goal that holds now is met (a
        state, such as a field's value), else the participation is completed."""
        if person is not None and self.conditions.goal_holds(w.flow, person, w.p):
            succeed(changes, w.p, w.flow, now, "success criteria met")
            return
        finish(changes, w.p, w.flow, "completed", "", now)

    def _version_for(self, p: Participant, current: int) -> Flow | None:
        """Participants move to the flow's current version where their step still exists."""
        if p.version != current:
            newer = self.versions.flow(p.flow_id, current)
            if newer is not None and p.step in newer.steps:
                p.version = current
                return newer
        return self.versions.flow(p.flow_id, p.version)

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
    ) -> Verdict | None:
        """Before a step: ``None`` to go ahead, else why not."""
        p, flow = w.p, w.flow
        if person is None:
            return Exit("person no longer in the CRM")
        selection = flow.doc.get("exclusion_selection")
        if selection and (selection, p.person_id) in excluded:
            return Exit("in the exclusion selection")
        if not p.succeeded and self.conditions.goal_holds(flow, person, p):
            return GoalMet()
        step_type = self.registry.step_type(flow.steps[p.step or ""]["type"])
        if step_type.sends and not (w.wake is not None and w.wake.kind == EVENT):
            tz = zone(person.get("timezone"), flow.doc["timezone"])
            opens = next_opening(flow.doc.get("send_window"), now, tz)
            if opens is not None:
                return OutsideWindow(opens)
        return None

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
            evaluate=lambda ref, _p=w.p, _person=person: self.conditions.condition(ref, _person, _p),
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
        self.rt.redis.mset({keys.run_marker(w.p.id): w.p.step or "" for w in ready})

    def _apply(self, changes: Changes, w: _Work, step: dict[str, Any], r: StepResult, now: float) -> None:
        """Record a step's result and move the participant as it says."""
        p, flow = w.p, w.flow
        changes.metrics.step(step["type"], r)
        if p.event_at:
            changes.metrics.event_to_step(time.time() - p.event_at)
            p.event_at = None
        if p.wait is not None:
            end_wait(changes, p)
        if r.action != "retry":
            p.note(now, step["id"], "step", r.outcome)
        if r.counters:
            changes.count(flow.id, now, **{step_field(step["id"], k): v for k, v in r.counters.items()})
            changes.count(flow.id, now, **r.counters)
        if r.sending is not None:
            p.last_sending = dict(r.sending, at=int(now), step=step["id"])
        changes.save(p, now)
        changes.after.append(StepDone(p, step, r))
        if r.action == "advance":
            leave(changes, p, now, passed=True)
            move(changes, p, flow, flow.next_of.get(step["id"]), now)
        elif r.action == "wait":
            set_wait(changes, p, Wait(TIME, r.until), now)
        elif r.action == "wait_for_event":
            set_wait(changes, p, Wait(EVENT, r.until, tuple(r.event_types)), now)
            for event_type in r.event_types:
                changes.awaiting[event_type] += 1
        elif r.action == "branch":
            firsts = flow.branch_first.get(step["id"], [])
            index = r.branch if r.branch is not None and 0 <= r.branch < len(firsts) else len(firsts) - 1
            leave(changes, p, now, passed=True)
            changes.count(flow.id, now, **{f"branch:{step['id']}:{index}": 1})
            move(changes, p, flow, firsts[index] if firsts else flow.next_of.get(step["id"]), now)
        elif r.action == "goto" and r.goto in flow.steps:
            leave(changes, p, now, passed=True)
            move(changes, p, flow, r.goto, now)
        elif r.action == "goto":
            finish(changes, p, flow, "exited", f"no step {r.goto!r} to go to", now)
        elif r.action == "retry" and r.channel:
            # The channel is down: wait for it to be back, without using up an attempt.
            attempts = w.wake.attempts if w.wake is not None and w.wake.kind == RETRY else 0
            wait = Wait(RETRY, now + outages.RECHECK_SECONDS, attempts=attempts, channel=r.channel)
            changes.outages[r.channel][p.id] = r.reason
            set_wait(changes, p, wait, now, r.reason)
            self._trouble(changes, flow, step, r.reason, now)
        elif r.action == "retry":
            attempts = w.wake.attempts + 1 if w.wake is not None and w.wake.kind == RETRY else 1
            self._trouble(changes, flow, step, r.reason, now)
            if attempts >= MAX_STEP_ATTEMPTS:
                changes.trouble.failed(flow.id, step["id"])
                changes.count(flow.id, now, **{failures.failed_counter(step["id"]): 1})
                finish(changes, p, flow, "exited", r.reason, now)
            else:
                wait = Wait(RETRY, now + float(r.until or 60) * attempts, attempts=attempts)
                set_wait(changes, p, wait, now, f"will retry: {r.reason}")
        else:
            finish(changes, p, flow, "exited", r.reason or "exited", now)

    def _trouble(self, changes: Changes, flow: Flow, step: dict[str, Any], reason: str, now: float) -> None:
        """Note a failure of the step, for the chart, Summary, Reports and the alert."""
        label = flow.step_label(step["id"], self.registry)
        changes.trouble.add(flow.id, step["id"], reason, now, flow_name=flow.name, step_label=label)


def _channel_back(wait: Wait, down: set[str]) -> bool:
    """A wait for a channel that is no longer down has ended."""
    return bool(wait.channel) and wait.channel not in down
