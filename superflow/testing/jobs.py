"""Working the queue inside a test's own process, and a worker that dies mid-step."""

from __future__ import annotations

from typing import Any

from superflow.runtime import Runtime
from superflow.runtime import set_current


class WorkerKilled(BaseException):
    """Stands for a worker killed with SIGKILL (not an ``Exception``: nothing may catch it)."""


def crash_after_effects(runtime: Runtime, pids: list[str]) -> None:
    """Run a step for these participants and "kill the worker" after the step had
    its effects but before the engine stored the result: the situation a step's
    idempotency must survive.  Run ``runtime.engine.advance(pids)`` again after it."""
    stepping = runtime.engine.stepping

    def killed(*args: Any, **kwargs: Any) -> None:
        raise WorkerKilled

    original = stepping._apply
    stepping._apply = killed
    try:
        stepping.advance(pids)
    except WorkerKilled:
        return
    finally:
        stepping._apply = original
    raise AssertionError("the step ran no effect for these participants: nothing was interrupted")


def drain(runtime: Runtime, max_loops: int = 200) -> int:
    """Run queued jobs and due wake-ups in this process until none are left;
    return how many jobs ran."""
    from superflow.worker import make_worker

    set_current(runtime)
    ran = 0
    for _ in range(max_loops):
        runtime.engine.tick()
        queued = runtime.queue.count
        if not queued:
            _raise_failures(runtime)
            return ran
        worker = make_worker(runtime)
        worker.work(burst=True, logging_level="WARNING")
        ran += queued
    raise RuntimeError(f"jobs kept coming after {max_loops} rounds")


def _raise_failures(runtime: Runtime) -> None:
    """A failed job fails the test, with its traceback (and leaves the registry empty)."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    registry = runtime.queue.failed_job_registry
    ids = registry.get_job_ids()
    if ids:
        job = Job.fetch(ids[0], connection=runtime.rq_redis, serializer=JSONSerializer)
        registry.remove(job, delete_job=True)
        result = job.latest_result()
        trace = result.exc_string if result else ""
        raise RuntimeError(f"{len(ids)} job(s) failed; the first: {job.func_name}\n{trace}")
