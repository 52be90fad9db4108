"""The RQ entry points: what a worker runs for each kind of engine job.

Jobs take ids and JSON (RQ's JSON serializer, never pickle) and look up their
process's :class:`~superflow.runtime.Runtime`.  RQ stores each job by this module's
dotted names, so they keep them; :mod:`superflow.queueing` puts the jobs on the queue.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from typing import Any

from superflow import inbox
from superflow import queueing
from superflow.events import Event
from superflow.runtime import current


def advance(pids: list[str]) -> None:
    """Move these participants as far as they can go now."""
    current().engine.advance(pids)


def handle_events(events: list[dict[str, Any]]) -> None:
    current().engine.handle_events([Event.from_dict(e) for e in events])


def retry_deferred(entries: list[dict[str, Any]]) -> None:
    """Events that found a participation busy, tried again."""
    current().engine.retry_deferred(entries)


def enrol(
    flow_id: str,
    person_ids: list[str],
    source: str,
    bypass_filters: bool = False,
    event_data: dict[str, dict[str, Any]] | None = None,
) -> None:
    current().engine.enrol(flow_id, person_ids, source, bypass_filters=bypass_filters, event_data=event_data)


DRAIN_SECONDS = 1.0
"""How long one drain job goes on taking batches while more keep coming: under a
steady stream the worker saves RQ's cost of a job per batch, and other jobs wait at
most this long for it."""


def drain(kind: str, batch: str) -> None:
    """Take up to ``SUPERFLOW_BATCH_SIZE`` items from ``kind``'s inbox (or, run again
    after a worker died, the ones this batch took before) and handle them; when more
    are waiting, another drain job is queued first so a second worker can share them.
    Then the next batch, under the same claim, while items keep coming, for up to
    :data:`DRAIN_SECONDS`."""
    rt = current()
    claim = inbox.Claimer(rt.redis)
    until = time.monotonic() + DRAIN_SECONDS
    first = True
    while True:
        items, left = claim(kind, batch, rt.config.batch_size, first)
        first = False
        if left:
            queueing.drain_soon(rt, kind)
        if items:
            if kind == inbox.EVENTS:
                rt.engine.handle_events([Event.from_dict(json.loads(item)) for item in items])
            else:
                rt.engine.advance(items)
        inbox.done(rt.redis, batch, events=len(items) if kind == inbox.EVENTS else 0)
        if not items or time.monotonic() >= until:
            return


def scan(flow_id: str, start: float, end: float) -> None:
    """A scanning trigger's window: enrol who is due."""
    current().engine.scan(flow_id, start, end)


def periodic(name: str) -> None:
    """One round of a plugin's periodic task."""
    current().engine.run_periodic(name)


def link_clicked(flow_id: str, step_id: str, participant_id: str, person_id: str, url: str) -> None:
    """The actions of a link a participant clicked for the first time."""
    from superflow import flows
    from superflow import link_actions

    rt = current()
    try:
        flow = flows.get(rt, flow_id)
    except flows.FlowNotFound:
        return
    link_actions.run(rt, flow, step_id, participant_id, person_id, url)


def run_plugin_job(function: str, args: list[Any]) -> None:
    """Queued by :meth:`superflow.services.Services.enqueue`: call the plugin's
    ``function`` with the worker's services first.  Jobs carry names and plain
    values, never objects."""
    module, _, name = function.rpartition(".")
    target: Callable[..., Any] = getattr(importlib.import_module(module), name)
    target(current(), *args)
