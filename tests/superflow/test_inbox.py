"""Work that batches itself under load and stays immediate when idle: single events
and participants ready for their next step wait in an inbox that one drain job at a
time takes, instead of an RQ job each (superflow.inbox)."""

from __future__ import annotations

import itertools

import pytest

from superflow import inbox
from superflow import keys
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

NUMBERS = itertools.count()


@pytest.fixture
def flow(sf_runtime, sf_run_jobs):
    """A running flow that emails everyone who signs up, with the queue worked empty."""
    flow = started(sf_runtime, flow_doc([email_step("hello")]))
    sf_run_jobs(sf_runtime)
    return flow


def _people(rt, n: int) -> list[str]:
    made = []
    for _ in range(n):
        i = next(NUMBERS)
        made.append(rt.crm.create_person(first_name=f"P{i}", email=f"p{i}@example.com")["id"])
    return made


def test_single_events_that_arrive_while_the_workers_are_busy_are_handled_in_one_batch(
    sf_runtime, sf_run_jobs, flow
):
    rt = sf_runtime
    persons = _people(rt, 200)
    for pid in persons:  # 200 API calls, one event each
        signed_up(rt, pid)
    assert rt.queue.count == 1, "one drain job waits for all 200 events"
    jobs_run = sf_run_jobs(rt)
    assert jobs_run <= 3, f"{jobs_run} jobs for 200 events: they were not batched"
    assert Outbox(rt.config).count("email") == 200
    assert {participant_of(rt, flow, pid).status for pid in persons} == {"completed"}


def test_one_event_when_idle_is_taken_by_a_drain_job_at_once(sf_runtime, sf_run_jobs, flow):
    rt = sf_runtime
    (person,) = _people(rt, 1)
    signed_up(rt, person)
    assert rt.queue.count == 1
    sf_run_jobs(rt)
    assert participant_of(rt, flow, person).status == "completed"
    signed_up(rt, *_people(rt, 1))
    assert rt.queue.count == 1, "the next event queues a new drain job: none is pending"


def test_a_drain_job_whose_worker_died_after_taking_its_events_is_run_again_with_them(sf_plugin, sf_run_jobs):
    import time

    rt = sf_plugin(heartbeat_seconds=0.2)
    flow = started(rt, flow_doc([email_step("hello")]))
    sf_run_jobs(rt)
    first, later = _people(rt, 3), _people(rt, 2)
    signed_up(rt, *first)
    # A worker takes the drain job off the queue, claims the three events, and is
    # killed before it handles them.
    job_id = rt.rq_redis.lmove(rt.queue.key, rt.queue.intermediate_queue.key).decode()
    kind, batch = rt.queue.fetch_job(job_id).args
    claimed, left = inbox.Claimer(rt.redis)(kind, batch, rt.config.batch_size)
    assert sum('"signed_up"' in item for item in claimed) == 3 and left == 0
    signed_up(rt, *later)  # a new drain job takes these: the dead one's flag is gone
    rt.engine.tick()
    time.sleep(0.3)
    sf_run_jobs(rt)
    assert {participant_of(rt, flow, pid).status for pid in first + later} == {"completed"}
    assert Outbox(rt.config).count("email") == 5
    assert inbox.waiting(rt.redis) == {"events": 0, "advance": 0}
    assert not rt.redis.exists(keys.inbox_claim(batch)), "the batch's claim is gone once handled"


def test_items_a_process_left_without_queuing_a_drain_job_are_taken_within_a_tick(
    sf_runtime, sf_run_jobs, flow
):
    rt = sf_runtime
    (person,) = _people(rt, 1)
    signed_up(rt, person)
    sf_run_jobs(rt)
    assert participant_of(rt, flow, person).status == "completed"
    # A process wrote participants ready for their next step and died before it
    # queued the drain job (or the job was lost with its flag still set).
    (other,) = _people(rt, 1)
    signed_up(rt, other)
    rt.rq_redis.delete(rt.queue.key)
    assert rt.queue.count == 0
    rt.redis.delete(keys.inbox_queued(inbox.EVENTS))
    sf_run_jobs(rt)  # ticks first: the tick finds the inbox forgotten and queues a drain job
    assert participant_of(rt, flow, other).status == "completed"
    assert Outbox(rt.config).count("email") == 2


def test_a_batch_larger_than_the_batch_size_is_shared_by_several_drain_jobs(sf_plugin, sf_run_jobs):
    rt = sf_plugin(batch_size=50)
    flow = started(rt, flow_doc([email_step("hello")]))
    sf_run_jobs(rt)
    persons = _people(rt, 120)
    for pid in persons:
        signed_up(rt, pid)
    assert rt.queue.count == 1
    sf_run_jobs(rt)
    assert {participant_of(rt, flow, pid).status for pid in persons} == {"completed"}
    assert Outbox(rt.config).count("email") == 120
