"""The worker process: an RQ worker plus the tick that wakes due participants.

Run any number of them, on any machines, against one Redis.  Jobs run in the
worker process itself (RQ's ``SimpleWorker``): they are batches of trusted
engine work, and forking per job would cost more than most batches take.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from superflow.runtime import Runtime, set_current

log = logging.getLogger(__name__)


class Ticker(threading.Thread):
    """Calls :meth:`Engine.tick` every ``interval`` seconds until stopped, and first
    renews the leases the worker's current job holds (its heartbeat)."""

    def __init__(self, runtime: Runtime, interval: float) -> None:
        super().__init__(name="superflow-tick", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        failing = False
        while not self.stopping.wait(self.interval):
            try:
                self.runtime.engine.renew_leases()
                self.runtime.engine.tick()
                failing = False
            except (redis.ConnectionError, redis.TimeoutError):
                failing = True  # the work loop says so, once
            except Exception:
                if not failing:
                    log.exception("tick failed; trying again every %ss", self.interval)
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
    """Work until stopped (SIGTERM/SIGINT), ticking in the background.

    When Redis goes away (a restart, a failover) RQ's work loop ends; the worker
    then says so once, waits for Redis with a growing pause (up to five seconds) and
    goes on as a newly registered RQ worker.  The job that was running is handed
    over like a killed worker's, once its leases run out."""
    set_current(runtime)
    # The heartbeat renews leases at least three times within their lifetime.
    interval = min(runtime.config.tick_seconds, runtime.config.stuck_after_seconds / 3)
    ticker = Ticker(runtime, interval)
    ticker.start()
    try:
        rounds = 0
        while True:
            worker = make_worker(runtime, name if rounds == 0 or name is None else f"{name}.{rounds}")
            try:
                worker.work(burst=burst, logging_level="WARNING")
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("lost Redis (%s); waiting for it to come back", exc)
            else:
                if burst or worker._stop_requested or _answers(runtime):
                    return
                log.warning("lost Redis; waiting for it to come back")
            _wait_for_redis(runtime)
            log.warning("Redis is back; working again")
            rounds += 1
    finally:
        ticker.stop()


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
