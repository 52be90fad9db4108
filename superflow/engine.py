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

from typing import TYPE_CHECKING

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
    from superflow.runtime import Runtime


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
        # What callers (jobs, CLI, web) ask of the engine, each answered by one part.
        self.work_as = self.leases.work_as
        self.renew_leases = self.leases.renew
        self.flow = self.versions.flow
        self.handle_events = self.enrolment.handle_events
        self.retry_deferred = self.enrolment.retry_deferred
        self.enrol = self.enrolment.enrol
        self.advance = self.stepping.advance
        self.tick = self.scheduler.tick
        self.scan = self.scheduler.scan
        self.run_periodic = self.scheduler.run_periodic
        self.remove_participant = self.lifecycle.remove_participant
        self.move_participant = self.lifecycle.move_participant
        self.pause = self.lifecycle.pause
        self.resume = self.lifecycle.resume
        self.end = self.lifecycle.end
