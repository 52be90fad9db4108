"""A round's commit: its writes and its next job in one MULTI/EXEC, then what follows.

Each round of engine work gathers its writes in a :class:`~superflow.store.Changes`
and commits them here at once; the work that must wait until they are stored — the
hooks that tell plugins, a move to another flow — rides along as follow-ups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from redis.exceptions import WatchError

from superflow import failures
from superflow import queueing
from superflow.leases import LeaseLost
from superflow.leases import Leases
from superflow.participant_view import ParticipantView

if TYPE_CHECKING:
    from redis.client import Pipeline

    from superflow.components import StepResult
    from superflow.runtime import Runtime
    from superflow.store import Changes
    from superflow.store import Participant

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StepDone:
    """A step ran for a participant: ``superflow_step_executed``."""

    what: ClassVar[str] = "step"
    participant: Participant
    step: dict[str, Any]
    result: StepResult


@dataclass(slots=True)
class Finished:
    """A participation ended: ``superflow_participant_finished``."""

    what: ClassVar[str] = "finished"
    participant: Participant
    status: str
    reason: str


@dataclass(slots=True)
class MovedOn:
    """A participant succeeded in a flow that moves them on to ``flow_id``."""

    what: ClassVar[str] = "move"
    participant: Participant
    flow_id: str


FollowUp = StepDone | Finished | MovedOn
Enrol = Callable[..., list[str]]


class Commits:
    """Commits rounds under this process's leases; ``enrol`` enrols a participant
    that moves on to another flow (the engine's enrolment)."""

    def __init__(self, runtime: Runtime, leases: Leases, enrol: Enrol) -> None:
        self.rt = runtime
        self.leases = leases
        self._enrol = enrol

    def commit(self, changes: Changes) -> None:
        """Write a round's changes and its next job in one MULTI/EXEC, then tell the hooks.

        The leases the round releases are WATCHed and checked to be still ours: a
        worker taken for dead (frozen, cut off) whose participants another worker
        took over writes nothing, so that no round is ever committed twice."""
        leases = self.leases
        fenced = sorted(changes.delete & leases.held)
        with leases.lock:
            pipe = self.rt.rq_redis.pipeline()
            try:
                if fenced:
                    pipe.watch(*fenced)
                    holders = pipe.mget(fenced)
                    lost = [k for k, v in zip(fenced, holders, strict=True) if v != leases.token.encode()]
                    if lost:
                        raise LeaseLost(len(lost))
                pipe.multi()
                changes.commit(pipe, self.enqueue)
                pipe.execute()
            except WatchError:
                raise LeaseLost(len(fenced)) from None
            finally:
                pipe.reset()
            leases.held -= changes.delete
        if changes.advance:
            queueing.drain_soon(self.rt)
        self.follow_up(changes.after)
        failures.alert_admins(self.rt, changes.trouble)

    def enqueue(self, pids: list[str], pipe: Pipeline) -> None:
        """Put the participants ready for their next step in the inbox, in the
        round's transaction; :func:`queueing.drain_soon` follows the EXEC."""
        queueing.enqueue_advance(self.rt, pids, pipeline=pipe)

    def follow_up(self, after: list[FollowUp]) -> None:
        """Hooks and follow-ups, once the transitions are stored."""
        hook = self.rt.registry.hook
        for item in after:
            try:
                match item:
                    case StepDone(participant=p, step=step, result=result):
                        hook.superflow_step_executed(
                            participant=ParticipantView.of(p), step=step, result=result
                        )
                    case Finished(participant=p, status=status, reason=reason):
                        hook.superflow_participant_finished(
                            participant=ParticipantView.of(p), status=status, reason=reason
                        )
                    case MovedOn(participant=p, flow_id=target):
                        self._enrol(
                            target, [p.person_id], f"moved from flow {p.flow_id}", bypass_filters=True
                        )
            except Exception:
                log.exception(
                    "after %s of participant %s: a hook or follow-up failed", item.what, item.participant.id
                )
