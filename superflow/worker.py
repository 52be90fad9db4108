"""The worker process: an RQ worker plus the tick that wakes due participants.

Run any number of them, on any machines, against one Redis.  Jobs run in the
worker process itself (RQ's ``SimpleWorker``): they are batches of trusted
engine work, and forking per job would cost more than most batches take.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from superflow.heartbeat import Heartbeat
from superflow.runtime import Runtime
from superflow.runtime import set_current

log = logging.getLogger(__name__)


class Every(threading.Thread):
    """Calls ``work`` every ``interval`` seconds until stopped; while Redis is away
    it says nothing (the work loop says so, once) and tries again."""

    def __init__(self, name: str, interval: float, work: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.work = work
        self.stopping = threading.Event()

    def run(self) -> None:
        failing = False
        while not self.stopping.wait(self.interval):
            try:
                self.work()
                failing = False
            except (redis.ConnectionError, redis.TimeoutError):
                failing = True
            except Exception:
                if not failing:
                    log.exception("%s failed; trying again every %ss", self.name, self.interval)
                failing = True

    def stop(self) -> None:
        self.stopping.set()


def make_worker(runtime: Runtime, name: str | None = None) -> SimpleWorker:
    return SimpleWorker(
        [runtime.queue],
        connection=runtime.rq_redis,
        serializer=JSONSerializer,
        name=name,
    )


def run_worker(runtime: Runtime, burst: bool = False, name: str | None = None) -> None:
    """Work until stopped (SIGTERM/SIGINT), beating and ticking in the background.

    The heartbeat (every third of ``SUPERFLOW_HEARTBEAT_SECONDS``) renews the leases
    of the running job and tells the other workers this one is alive; the tick
    (every ``SUPERFLOW_TICK_SECONDS``) wakes due participants and hands over the job
    of a worker that stopped beating.

    When Redis goes away (a restart, a failover) RQ's work loop ends; the worker
    then says so once, waits for Redis with a growing pause (up to five seconds) and
    goes on as a newly registered worker.  The job that was running is handed over
    like a killed worker's, at the next tick."""
    set_current(runtime)
    config = runtime.config
    engine = runtime.engine
    beat = Heartbeat(runtime.redis, config.heartbeat_seconds)
    engine.work_as(beat.token)

    def keep_alive() -> None:
        engine.renew_leases()
        beat.beat()

    pulse = min(config.heartbeat_seconds, config.stuck_after_seconds) / 3
    threads = [
        Every("superflow-heartbeat", pulse, keep_alive),
        Every("superflow-tick", config.tick_seconds, engine.tick),
    ]
    try:
        rounds = 0
        while True:
            worker = make_worker(runtime, name if rounds == 0 or name is None else f"{name}.{rounds}")
            beat.rq_name = worker.name
            _answering(beat.beat)
            if rounds == 0:
                for thread in threads:
                    thread.start()
            try:
                worker.work(burst=burst, logging_level="WARNING")
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("lost Redis (%s); waiting for it to come back", exc)
            else:
                if burst or worker._stop_requested or _answers(runtime):
                    _answering(beat.stop)
                    return
                log.warning("lost Redis; waiting for it to come back")
            _wait_for_redis(runtime)
            log.warning("Redis is back; working again")
            # The interrupted job is handed over under the old token; work on under a new one.
            _answering(beat.retire)
            beat = Heartbeat(runtime.redis, config.heartbeat_seconds)
            engine.work_as(beat.token)
            rounds += 1
    finally:
        for thread in threads:
            thread.stop()


def _answering(call: Callable[[], Any]) -> None:
    """Redis bookkeeping that may meet Redis away again: the heartbeat repeats it."""
    with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
        call()


def _answers(runtime: Runtime) -> bool:
    try:
        return bool(runtime.rq_redis.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False


def _wait_for_redis(runtime: Runtime) -> None:
    pause = 0.2
    while not _answers(runtime):
        time.sleep(pause)
        pause = min(5.0, pause * 2)
