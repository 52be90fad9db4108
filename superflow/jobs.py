"""The RQ entry points and the helpers that enqueue them.

Jobs take ids and JSON (RQ's JSON serializer, never pickle) and look up their
process's :class:`~superflow.runtime.Runtime`.  Each enqueue helper takes an optional
pipeline so that the job is queued in the same MULTI/EXEC as the state it follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rq import Retry

from superflow.events import Event

if TYPE_CHECKING:
    from redis.client import Pipeline

    from superflow.runtime import Runtime

RETRY = Retry(max=5)
FAILURE_TTL = 7 * 86400


def advance(pids: list[str]) -> None:
    """Move these participants as far as they can go now."""
    from superflow.runtime import current

    current().engine.advance(pids)


def handle_events(events: list[dict[str, Any]]) -> None:
    from superflow.runtime import current

    current().engine.handle_events([Event.from_dict(e) for e in events])


def retry_deferred(entries: list[dict[str, Any]]) -> None:
    """Events that found a participation busy, tried again."""
    from superflow.runtime import current

    current().engine.retry_deferred(entries)


def enrol(
    flow_id: str,
    person_ids: list[str],
    source: str,
    bypass_filters: bool = False,
    event_data: dict[str, dict[str, Any]] | None = None,
) -> None:
    from superflow.runtime import current

    current().engine.enrol(flow_id, person_ids, source, bypass_filters=bypass_filters, event_data=event_data)


def _enqueue(rt: Runtime, func: str, args: tuple[Any, ...], pipeline: Pipeline | None) -> None:
    rt.queue.enqueue(
        func,
        args=args,
        retry=RETRY,
        result_ttl=0,
        failure_ttl=FAILURE_TTL,
        pipeline=pipeline,
    )


def enqueue_advance(rt: Runtime, pids: list[str], pipeline: Pipeline | None = None) -> None:
    size = rt.config.batch_size
    for start in range(0, len(pids), size):
        _enqueue(rt, "superflow.jobs.advance", (pids[start : start + size],), pipeline)


def enqueue_events(rt: Runtime, events: list[Event], pipeline: Pipeline | None = None) -> None:
    size = rt.config.batch_size
    for start in range(0, len(events), size):
        chunk = [e.to_dict() for e in events[start : start + size]]
        _enqueue(rt, "superflow.jobs.handle_events", (chunk,), pipeline)


def enqueue_deferred(rt: Runtime, entries: list[dict[str, Any]], pipeline: Pipeline | None = None) -> None:
    _enqueue(rt, "superflow.jobs.retry_deferred", (entries,), pipeline)


def scan(flow_id: str, start: float, end: float) -> None:
    """A scanning trigger's window: enrol who is due."""
    from superflow.runtime import current

    current().engine.scan(flow_id, start, end)


def enqueue_scan(
    rt: Runtime, flow_id: str, start: float, end: float, pipeline: Pipeline | None = None
) -> None:
    _enqueue(rt, "superflow.jobs.scan", (flow_id, start, end), pipeline)


def periodic(name: str) -> None:
    """One round of a plugin's periodic task."""
    from superflow.runtime import current

    current().engine.run_periodic(name)


def enqueue_periodic(rt: Runtime, name: str, pipeline: Pipeline | None = None) -> None:
    _enqueue(rt, "superflow.jobs.periodic", (name,), pipeline)


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
