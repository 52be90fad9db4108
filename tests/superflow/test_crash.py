"""A worker killed with SIGKILL mid-run: a new worker finishes and nobody gets
anything twice or is left stuck."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from superflow import keys
from superflow.crashtest import run_crash_round


def test_sigkill_mid_batch_leaves_every_effect_exactly_once(sf_config):
    report = run_crash_round(sf_config, persons=150, kill_after=60)
    assert 0 < report.killed_after_emails < 150, "the kill must land in the middle of the run"
    assert report.emails == 150 and report.duplicate_emails == 0
    assert report.sms == 150 and report.duplicate_sms == 0
    assert report.crm_writes == Counter({1: 150})
    assert report.completed == 150 and report.stuck == 0


@pytest.mark.parametrize("connections", [1, 4])
def test_sigkill_mid_smtp_batch_loses_no_email_and_repeats_only_one_in_doubt_per_connection(
    sf_config, sf_smtp_server, connections
):
    inbox, port = sf_smtp_server
    config = replace(sf_config, smtp_connections=connections)
    report = run_crash_round(config, persons=150, kill_after=40, inbox=inbox, smtp_port=port)
    assert 0 < report.killed_after_emails < 150, "the kill must land in the middle of the run"
    assert report.lost_emails == 0, "every participant who completed got the email"
    assert report.duplicate_emails <= report.in_doubt <= connections, (
        "at most one email in doubt per connection"
    )
    assert report.sms == 150 and report.duplicate_sms == 0
    assert report.crm_writes == Counter({1: 150})
    assert report.completed == 150 and report.stuck == 0
    assert report.email_counter == 150 and report.sms_counter == 150, "reports count each email once"


def test_a_worker_frozen_mid_batch_is_taken_over_and_writes_nothing_when_it_wakes(sf_config, sf_smtp_server):
    inbox, port = sf_smtp_server
    report = run_crash_round(sf_config, persons=150, kill_after=40, inbox=inbox, smtp_port=port, freeze=True)
    assert 0 < report.killed_after_emails < 150, "the freeze must land in the middle of the run"
    assert report.lost_emails == 0
    assert report.duplicate_emails <= report.in_doubt <= sf_config.smtp_connections, (
        "one in doubt per connection"
    )
    assert report.sms == 150 and report.duplicate_sms == 0
    assert report.crm_writes == Counter({1: 150})
    assert report.completed == 150 and report.stuck == 0
    assert report.email_counter == 150 and report.sms_counter == 150, "the woken worker counted nothing twice"


def test_a_round_longer_than_the_stuck_time_keeps_its_lease_and_is_not_run_twice(sf_plugin):
    import time

    from superflow.testing import email_step
    from superflow.testing import flow_doc
    from superflow.testing import signed_up
    from superflow.testing import started

    rt = sf_plugin(stuck_after_seconds=1)
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    signed_up(rt, person["id"])
    rt.engine.handle_events(_queued_events(rt))
    pid = f"{flow.id}.1"
    assert rt.store.participant(pid) is not None, "the sign-up enrolled the person"
    # A job is moving the participant (it holds the lease) for three times the stuck time,
    # its heartbeat renewing the lease, while the tick looks for stuck participants.
    assert rt.engine.leases.take([pid]) == [pid]
    recovered = 0
    for _ in range(10):
        time.sleep(0.3)
        rt.engine.renew_leases()
        recovered += rt.engine.tick().get("recovered", 0)
    assert recovered == 0, "a participant a live job holds is not handed to a second job"
    assert rt.redis.get(keys.lease(pid)) is not None


def test_a_worker_killed_in_the_middle_of_its_tick_does_not_hold_up_the_others(sf_plugin, sf_run_jobs):
    from superflow import heartbeat
    from superflow import scheduler
    from superflow.plugins.outbox import Outbox
    from superflow.testing import email_step
    from superflow.testing import flow_doc
    from superflow.testing import participant_of
    from superflow.testing import signed_up
    from superflow.testing import started

    rt = sf_plugin()
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    wait = {"id": "pause", "type": "wait", "settings": {"amount": 1, "unit": "days"}}
    flow = started(rt, flow_doc([wait, email_step("hello")]))
    signed_up(rt, person["id"])
    sf_run_jobs(rt)
    rt.clock.advance(86400 + 60)
    # A worker was killed while it held the tick lock: it no longer beats.
    dead = heartbeat.Heartbeat(rt.redis, 30)
    dead.beat()
    rt.redis.set(scheduler.TICK_LOCK, dead.token, px=10_000)
    dead.retire()
    sf_run_jobs(rt)
    assert participant_of(rt, flow, person["id"]).status == "completed", "the day's wait ended on time"
    assert Outbox(rt.config).count("email") == 1


def _taken_off_the_queue(rt):
    """What a worker's dequeue does first: the job moves to RQ's intermediate list."""
    job_id = rt.rq_redis.lmove(rt.queue.key, rt.queue.intermediate_queue.key).decode()
    assert rt.queue.count == 0, "the sign-up's job is the only one"
    return rt.queue.fetch_job(job_id)


def test_a_job_whose_worker_was_killed_as_it_took_the_job_is_run_by_another(sf_plugin, sf_run_jobs):
    import time

    from superflow.plugins.outbox import Outbox
    from superflow.testing import email_step
    from superflow.testing import flow_doc
    from superflow.testing import participant_of
    from superflow.testing import signed_up
    from superflow.testing import started

    rt = sf_plugin(heartbeat_seconds=0.2)
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    sf_run_jobs(rt)
    signed_up(rt, person["id"])
    _taken_off_the_queue(rt)  # and the worker was killed before it started the job
    rt.engine.tick()
    time.sleep(0.3)
    sf_run_jobs(rt)
    assert participant_of(rt, flow, person["id"]).status == "completed"
    assert Outbox(rt.config).count("email") == 1


def test_a_job_whose_worker_was_killed_before_it_said_it_was_running_it_is_handed_over(
    sf_plugin, sf_run_jobs
):
    from rq import Worker
    from rq.executions import prepare_execution

    from superflow import heartbeat
    from superflow.plugins.outbox import Outbox
    from superflow.testing import email_step
    from superflow.testing import flow_doc
    from superflow.testing import participant_of
    from superflow.testing import signed_up
    from superflow.testing import started

    rt = sf_plugin()
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    sf_run_jobs(rt)
    signed_up(rt, person["id"])
    worker = Worker([rt.queue], connection=rt.rq_redis, serializer=rt.queue.serializer)
    worker.register_birth()
    beat = heartbeat.Heartbeat(rt.redis, 30)
    beat.rq_name = worker.name
    beat.beat()
    # The worker took the job and RQ recorded its execution; then the worker was
    # killed before it marked the job as its current one.
    prepare_execution(worker, _taken_off_the_queue(rt))
    beat.retire()
    sf_run_jobs(rt)
    assert participant_of(rt, flow, person["id"]).status == "completed"
    assert Outbox(rt.config).count("email") == 1
    assert heartbeat.handovers(rt.redis)[0]["job"] is not None


def _queued_events(rt):
    """The events waiting in the engine's inbox, taken out of it with their drain job
    (run here instead of by a worker)."""
    import json

    from superflow import inbox
    from superflow.events import Event

    rt.rq_redis.delete(rt.queue.key)
    items, _ = inbox.Claimer(rt.redis)(inbox.EVENTS, "test", 10_000)
    inbox.done(rt.redis, "test")
    return [Event.from_dict(json.loads(item)) for item in items]
