"""The worker process: an RQ worker plus the tick that wakes due participants.

Run any number of them, on any machines, against one Redis.  Jobs run in the
worker process itself (RQ's ``SimpleWorker``): they are batches of trusted
engine work, and forking per job would cost more than most batches take.
"""

from __future__ import annotations

import logging
import threading

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
        while not self.stopping.wait(self.interval):
            try:
                self.runtime.engine.renew_leases()
                self.runtime.engine.tick()
            except Exception:
                log.exception("tick failed; trying again in %ss", self.interval)

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
    """Work until stopped (SIGTERM/SIGINT), ticking in the background."""
    set_current(runtime)
    # The heartbeat renews leases at least three times within their lifetime.
    interval = min(runtime.config.tick_seconds, runtime.config.stuck_after_seconds / 3)
    ticker = Ticker(runtime, interval)
    ticker.start()
    try:
        make_worker(runtime, name).work(burst=burst, logging_level="WARNING")
    finally:
        ticker.stop()
