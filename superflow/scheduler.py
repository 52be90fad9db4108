"""The scheduler: the tick every worker runs, and the work it hands out.

Each second one worker (a lock decides which) hands due wake-ups, participants whose
job died and deferred events to jobs, gives a dead worker's job to the others, asks
channels that are down whether they work again, queues date-trigger scans and
plugins' periodic tasks, and purges participations finished long ago.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING
from typing import Any

from superflow import heartbeat
from superflow import keys
from superflow import outages
from superflow import queueing
from superflow import store
from superflow.counters import Counters
from superflow.engine_parts import EnginePart
from superflow.engine_parts import Shared
from superflow.keys import DEFERRED_EVENTS
from superflow.keys import PERIODIC_NEXT
from superflow.keys import SCAN_NEXT
from superflow.keys import TICK_LOCK
from superflow.store import Changes

if TYPE_CHECKING:
    from redis.client import Pipeline

    from superflow.enrolment import Enrolment

log = logging.getLogger(__name__)

# How long a tick may hold its lock; one of a worker that stopped beating is taken at once.
TICK_LOCK_MS = 10_000
SCANNED_TO_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'scanned_to') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'scanned_to', ARGV[1]) end
return 1
"""


class Scheduler(EnginePart):
    """The tick, scans and periodic tasks, for one process's engine."""

    def __init__(self, shared: Shared, enrolment: Enrolment) -> None:
        super().__init__(shared)
        self.enrolment = enrolment

    def tick(self, limit: int = 5000) -> dict[str, int]:
        """Hand due wake-ups, stuck participants and deferred events to queueing.

        Run every second by each worker; a lock lets one of them do it at a time.
        """
        self._probe_channels()
        if not self.leases.take_lock(TICK_LOCK, TICK_LOCK_MS):
            return {}
        try:
            handed = self._hand_over_dead_workers()
            queueing.drain_forgotten(self.rt)
            now = self.rt.clock.now()
            due = self.rt.redis.zrangebyscore(keys.WAKEUPS, "-inf", now, start=0, num=limit)
            stale_before = time.time() - self.rt.config.stuck_after_seconds
            stuck = self.rt.redis.zrangebyscore(keys.INFLIGHT, "-inf", stale_before, start=0, num=limit)
            if stuck:
                # A participant whose lease is still held is being moved by a live job
                # (its heartbeat keeps the lease): handing it to a second job would only
                # see it dropped there and its clock started again.
                holders = self.rt.redis.mget([keys.lease(pid) for pid in stuck])
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
                self.commits.commit(changes)
            scanned = self._schedule_scans(now)
            self._schedule_periodic(now)
            purged = self.purge_finished(now)
            if events:
                pipe = self.rt.rq_redis.pipeline()
                pipe.multi()
                pipe.zrem(DEFERRED_EVENTS, *events)
                queueing.enqueue_deferred(self.rt, [json.loads(e) for e in events], pipeline=pipe)
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
            self.leases.release_lock(TICK_LOCK)

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
                what, waiting = outages.ended(self.rt.redis, channel, self.wake_now)
                since = float(what.get("since") or time.time())
                log.warning(
                    "%s works again after %.0f s down; %d participants go on",
                    channel,
                    time.time() - since,
                    len(waiting),
                )

    def wake_now(self, pipe: Pipeline, pids: list[str]) -> None:
        """Make these participants due now, in ``pipe``'s transaction (a channel is back)."""
        changes = Changes()
        now = self.rt.clock.now()
        for pid in pids:
            changes.wake_at(pid, now)
        changes.commit(pipe, self.commits.enqueue)

    def _hand_over_dead_workers(self) -> int:
        """Give the job of each worker that stopped beating to the others, at the
        front of the queue; its participants' leases are taken over as it runs.  A
        job a worker took and died with before it started is queued again too."""
        handed = len(queueing.rescue_stranded(self.rt, self.rt.config.heartbeat_seconds))
        for token, rq_name in heartbeat.dead_workers(self.rt.redis).items():
            job_id = queueing.hand_over(self.rt, rq_name)
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
        pids = self.rt.redis.zrangebyscore(keys.FINISHED, "-inf", now - days * 86400, start=0, num=limit)
        if not pids:
            return 0
        parts = self.store.participants(pids)
        per_flow: dict[str, int] = defaultdict(int)
        pipe = self.rt.redis.pipeline()
        for pid, p in parts.items():
            if p.status == "active":
                continue
            pipe.delete(keys.participant(pid), keys.run_marker(pid))
            pipe.zrem(keys.flow_index(p.flow_id, store.index_of(p.status, p.step)), pid)
            per_flow[p.flow_id] += 1
        pipe.zrem(keys.FINISHED, *pids)
        for flow_id, n in per_flow.items():
            Counters.add(pipe, flow_id, {"purged": n})
        pipe.execute()
        return sum(per_flow.values())

    def _schedule_scans(self, now: float) -> int:
        """Every ``SUPERFLOW_SCAN_SECONDS`` of engine time, hand each flow whose
        trigger scans (a date reached) the window since its last scan."""
        due = self.rt.redis.get(SCAN_NEXT)
        if due is not None and float(due) > now:
            return 0
        flow_ids = sorted(self.rt.redis.smembers(keys.SCANNING))
        pipe = self.rt.rq_redis.pipeline()
        pipe.multi()
        pipe.set(SCAN_NEXT, now + self.rt.config.scan_seconds)
        starts = [self.rt.redis.hget(keys.flow(fid), "scanned_to") for fid in flow_ids]
        scanned = 0
        for fid, start in zip(flow_ids, starts, strict=True):
            begin = float(start) if start else now
            if begin < now:
                queueing.enqueue_scan(self.rt, fid, begin, now, pipeline=pipe)
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
                queueing.enqueue_periodic(self.rt, name, pipeline=pipe)
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
        state = self.versions.states({flow_id}).get(flow_id)
        if state is None or state[0] not in ("running", "paused"):
            return []
        flow = self.versions.flow(flow_id, state[1])
        if flow is None or flow.doc["trigger"] is None:
            return []
        trigger = self.registry.trigger(flow.doc["trigger"]["type"])
        data: dict[str, dict[str, Any]] = {}
        for event in trigger.scan(self.versions.settings(trigger, flow.doc["trigger"]), self.rt, start, end):
            occasion = event.data.get("occasion", "")
            if event.person_id and self.store.claim(
                f"occasion:{flow_id}:{event.person_id}:{occasion}", 400 * 86400
            ):
                data[event.person_id] = event.data
        enrolled = self.enrolment.enrol(flow_id, list(data), trigger.name, event_data=data) if data else []
        # Only a scan that finished moves the mark: a failed one is scanned again next time.
        self.rt.redis.eval(SCANNED_TO_SCRIPT, 1, keys.flow(flow_id), end)
        return enrolled
