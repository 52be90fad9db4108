"""Queueing engine work: the inboxes and RQ jobs that carry it, and jobs queued again.

Each enqueue helper takes an optional pipeline so that the job is queued in the same
MULTI/EXEC as the state it follows.  Jobs are named by their dotted path in
:mod:`superflow.jobs` (RQ stores the name), so this module needs nothing of theirs.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING
from typing import Any

from rq import Retry
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.job import JobStatus

from superflow import inbox

if TYPE_CHECKING:
    from redis.client import Pipeline

    from superflow.events import Event
    from superflow.runtime import Runtime

RETRY = Retry(max=5)
FAILURE_TTL = 7 * 86400
# A job whose worker died this many times is not handed over again (it may be what
# kills them): RQ's own clean-up retries or fails it, in minutes rather than seconds.
MAX_HANDOVERS = 3


def _enqueue(rt: Runtime, func: str, args: tuple[Any, ...], pipeline: Pipeline | None) -> None:
    rt.queue.enqueue(
        func,
        args=args,
        retry=RETRY,
        result_ttl=0,
        failure_ttl=FAILURE_TTL,
        pipeline=pipeline,
    )


def hand_over(rt: Runtime, worker_name: str) -> str | None:
    """Queue again, at the front, the job a dead RQ worker was running; returns the
    new job's id, or ``None`` when it was idle (or the job finished after all).

    A worker killed between taking a job and starting it has no current job yet,
    but RQ has recorded an execution of the job under its name: that job is its."""
    conn = rt.rq_redis
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + worker_name, connection=conn, serializer=rt.queue.serializer
    )
    job_id = worker.get_current_job_id() if worker is not None else None
    job_id = job_id or _taken_by(rt, worker_name)
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id, connection=conn, serializer=rt.queue.serializer)
    except NoSuchJobError:
        return None
    handovers = int(job.meta.get("handed_over", 0))
    if job.get_status() not in (JobStatus.STARTED, JobStatus.QUEUED) or handovers >= MAX_HANDOVERS:
        return None
    pipe = conn.pipeline()
    pipe.multi()
    job.delete(pipeline=pipe)
    pipe.lrem(rt.queue.intermediate_queue.key, 0, job.id)
    again = rt.queue.enqueue(
        job.func_name,
        args=job.args,
        kwargs=job.kwargs,
        retry=RETRY,
        result_ttl=0,
        failure_ttl=FAILURE_TTL,
        meta={"handed_over": handovers + 1},
        at_front=True,
        pipeline=pipe,
    )
    pipe.execute()
    return again.id


def _taken_by(rt: Runtime, worker_name: str) -> str | None:
    """The job RQ records as being executed by this worker, if any."""
    registry = rt.queue.started_job_registry
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        if Execution.fetch(execution_id, job_id, connection=rt.rq_redis).worker_name == worker_name:
            return job_id
    return None


def rescue_stranded(rt: Runtime, older_than: float) -> list[str]:
    """Queue again, at the front, the jobs a worker took off the queue and died with
    before RQ recorded it as running them (left in RQ's intermediate list), once they
    have been seen there for ``older_than`` seconds; RQ itself would only fail them
    after ten minutes or more.  Returns their ids."""
    queue = rt.queue
    waiting = queue.intermediate_queue
    ids = waiting.get_job_ids()
    if not ids:
        return []
    running = {job_id for job_id, _ in queue.started_job_registry.get_job_and_execution_ids(cleanup=False)}
    rescued: list[str] = []
    for job_id in ids:
        if job_id in running or waiting.set_first_seen(job_id):
            continue
        first_seen = waiting.get_first_seen(job_id)
        if first_seen is None or time.time() - first_seen.timestamp() < older_than:
            continue
        job = queue.fetch_job(job_id)
        pipe = rt.rq_redis.pipeline()
        pipe.multi()
        pipe.lrem(waiting.key, 0, job_id)
        if job is not None:
            queue.enqueue_job(job, pipeline=pipe, at_front=True)
        pipe.execute()
        rescued.append(job_id)
    return rescued


def enqueue_advance(rt: Runtime, pids: list[str], pipeline: Pipeline | None = None) -> None:
    """Put participants in the inbox of those ready for their next step.  With a
    ``pipeline`` (in MULTI) they are written with the state they follow, and the
    caller calls :func:`drain_soon` once it has executed."""
    if pipeline is not None:
        inbox.put(pipeline, inbox.ADVANCE, [str(p) for p in pids])
    elif pids:
        _put(rt, inbox.ADVANCE, [str(p) for p in pids])


def enqueue_events(rt: Runtime, events: list[Event]) -> None:
    """Put events in the engine's inbox; a drain job takes them at once when idle,
    in batches of up to ``SUPERFLOW_BATCH_SIZE`` under load."""
    if events:
        _put(rt, inbox.EVENTS, [json.dumps(e.to_dict(), separators=(",", ":")) for e in events])


def _put(rt: Runtime, kind: str, items: list[str]) -> None:
    if inbox.put_and_flag(rt.redis, kind, items, _flag_ttl(rt)):
        _enqueue_drain(rt, kind)


def drain_soon(rt: Runtime, kind: str = inbox.ADVANCE) -> None:
    """Make sure a drain job is queued for ``kind``'s inbox (after a MULTI/EXEC that
    put items there)."""
    if inbox.flag(rt.redis, kind, _flag_ttl(rt)):
        _enqueue_drain(rt, kind)


def drain_forgotten(rt: Runtime) -> list[str]:
    """Queue a drain job for every inbox holding items that no queued job will take
    (the tick calls it); returns those inboxes."""
    kinds = inbox.forgotten(rt.redis)
    for kind in kinds:
        drain_soon(rt, kind)
    return kinds


def _flag_ttl(rt: Runtime) -> int:
    return inbox.flag_seconds(rt.config.heartbeat_seconds)


def _enqueue_drain(rt: Runtime, kind: str) -> None:
    _enqueue(rt, "superflow.jobs.drain", (kind, uuid.uuid4().hex), None)


def enqueue_deferred(rt: Runtime, entries: list[dict[str, Any]], pipeline: Pipeline | None = None) -> None:
    _enqueue(rt, "superflow.jobs.retry_deferred", (entries,), pipeline)


def enqueue_scan(
    rt: Runtime, flow_id: str, start: float, end: float, pipeline: Pipeline | None = None
) -> None:
    _enqueue(rt, "superflow.jobs.scan", (flow_id, start, end), pipeline)


def enqueue_periodic(rt: Runtime, name: str, pipeline: Pipeline | None = None) -> None:
    _enqueue(rt, "superflow.jobs.periodic", (name,), pipeline)


def enqueue_link_actions(
    rt: Runtime, flow_id: str, step_id: str, participant_id: str, person_id: str, url: str
) -> None:
    """The job that does what a click on ``url`` does (:mod:`superflow.link_actions`)."""
    _enqueue(rt, "superflow.jobs.link_clicked", (flow_id, step_id, participant_id, person_id, url), None)


def enqueue_plugin_job(rt: Runtime, function: str, args: list[Any]) -> None:
    """A plugin's own job (:meth:`superflow.services.Services.enqueue`)."""
    _enqueue(rt, "superflow.jobs.run_plugin_job", (function, args), None)


def enqueue_enrol(
    rt: Runtime,
    flow_id: str,
    person_ids: list[str],
    source: str,
    bypass_filters: bool = False,
    event_data: dict[str, dict[str, Any]] | None = None,
) -> None:
    size = rt.config.batch_size
    for start in range(0, len(person_ids), size):
        chunk = [str(p) for p in person_ids[start : start + size]]
        data = {p: event_data[p] for p in chunk if event_data and p in event_data}
        _enqueue(rt, "superflow.jobs.enrol", (flow_id, chunk, source, bypass_filters, data), None)
