"""The engine: enrol, step, wait, branch, succeed, exit — in batches.

Every method here runs inside an RQ job (or a CLI command) and takes ids.  The
:class:`Engine` is the composition its callers see (``runtime.engine``); each part is
a module of its own: :mod:`~superflow.enrolment` (events → criteria → enrol),
:mod:`~superflow.stepping` (a round of steps, one commit per round),
:mod:`~superflow.scheduler` (the tick, scans, periodic tasks, purges),
:mod:`~superflow.lifecycle` (every status change of a participant and of a flow),
:mod:`~superflow.leases`, :mod:`~superflow.commits`, :mod:`~superflow.conditions` and
:mod:`~superflow.versions` (compiled flows and their loaded settings), all built on
:mod:`~superflow.engine_parts`.  Each round of work gathers its writes in a
:class:`~superflow.store.Changes` and commits them in one MULTI/EXEC; a job holds a
short lease on each participant it moves, so two jobs never move one participant at
once, and a job that dies leaves its participants in the in-flight set, from which
the tick hands them to a new job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from superflow.commits import Commits
from superflow.conditions import Conditions
from superflow.engine_parts import Shared
from superflow.enrolment import Enrolment
from superflow.leases import Leases
from superflow.lifecycle import Lifecycle
from superflow.scheduler import Scheduler
from superflow.stepping import Stepping
from superflow.versions import FlowVersions

if TYPE_CHECKING:
    from superflow.events import Event
    from superflow.flow import Flow
    from superflow.runtime import Runtime
    from superflow.store import Participant


class Engine:
    """One process's engine: its parts built on one runtime, sharing one cache of
    compiled flows and one set of leases."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.versions = FlowVersions(runtime.redis, runtime.store, runtime.registry)
        self.conditions = Conditions(runtime.registry, runtime, self.versions.settings)
        self.leases = Leases(runtime.redis, runtime.config)
        # A participant that succeeds in a flow that moves them on is enrolled in the
        # next flow once the round is stored.
        self.commits = Commits(
            runtime, self.leases, lambda *args, **kwargs: self.enrolment.enrol(*args, **kwargs)
        )
        shared = Shared(runtime, self.leases, self.versions, self.conditions, self.commits)
        self.enrolment = Enrolment(shared)
        self.stepping = Stepping(shared)
        self.scheduler = Scheduler(shared, self.enrolment)
        self.lifecycle = Lifecycle(shared)

    def work_as(self, token: str) -> None:
        """Hold leases under a beating worker's token (see :meth:`Leases.work_as`)."""
        self.leases.work_as(token)

    def renew_leases(self) -> int:
        """Extend the leases this process holds (the worker's heartbeat calls it)."""
        return self.leases.renew()

    def flow(self, flow_id: str, version: int) -> Flow | None:
        """A compiled flow version (cached: versions never change)."""
        return self.versions.flow(flow_id, version)

    def handle_events(self, events: list[Event]) -> None:
        """Apply events to participations, then enrol whom the triggers match."""
        self.enrolment.handle_events(events)

    def retry_deferred(self, entries: list[dict[str, Any]]) -> None:
        """Events that found a participation busy, applied to it now."""
        self.enrolment.retry_deferred(entries)

    def enrol(
        self,
        flow_id: str,
        person_ids: list[str],
        source: str,
        *,
        bypass_filters: bool = False,
        event_data: dict[str, dict[str, Any]] | None = None,
    ) -> list[str]:
        """Enrol persons who pass the flow's rules; return the new participant ids."""
        return self.enrolment.enrol(
            flow_id, person_ids, source, bypass_filters=bypass_filters, event_data=event_data
        )

    def advance(self, pids: list[str]) -> None:
        """Move participants through as many steps as they can go now."""
        self.stepping.advance(pids)

    def tick(self, limit: int = 5000) -> dict[str, int]:
        """Hand due wake-ups, stuck participants and deferred events to jobs."""
        return self.scheduler.tick(limit)

    def scan(self, flow_id: str, start: float, end: float) -> list[str]:
        """Enrol whom a flow's scanning trigger finds due in ``(start, end]``."""
        return self.scheduler.scan(flow_id, start, end)

    def run_periodic(self, name: str) -> str:
        """One round of a plugin's periodic task."""
        return self.scheduler.run_periodic(name)

    def remove_participant(self, pid: str, reason: str) -> Participant | None:
        """End an active participation as ``cancelled``; ``None`` when it is busy."""
        return self.lifecycle.remove_participant(pid, reason)

    def move_participant(self, pid: str, step_id: str, note: str) -> Participant | None:
        """Put an active participant at a step and run it; ``None`` when it is busy."""
        return self.lifecycle.move_participant(pid, step_id, note)

    def pause(self, flow_id: str) -> None:
        """Enrol no one and park participants where they stand."""
        self.lifecycle.pause(flow_id)

    def resume(self, flow_id: str) -> int:
        """Release parked participants and enrol those who matched while paused."""
        return self.lifecycle.resume(flow_id)

    def end(self, flow_id: str) -> int:
        """Cancel every active participant (history is kept); return how many."""
        return self.lifecycle.end(flow_id)
