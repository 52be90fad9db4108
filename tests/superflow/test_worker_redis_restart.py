"""A worker outlives a Redis restart: Redis killed with SIGKILL and started again on
its append-only file, the same `superflow worker` process goes on working."""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from pathlib import Path

import redis

from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.plugins.outbox import Outbox
from superflow.processes import SUPERFLOW
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime
from superflow.testing import consenting_persons
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started
from superflow.testing import until

#: Redis's errors while it restarts only mean "not yet".
redis_until = partial(until, tolerating=(redis.RedisError,))


def test_a_worker_keeps_working_after_redis_is_killed_and_restarted(tmp_path: Path):
    server = EmbeddedRedis(tmp_path / "redis-home")
    url = server.start()
    config = Config(data_dir=tmp_path / "data", redis_url=url, secret_key="restart", tick_seconds=0.2)
    rt = Runtime(config)
    env = dict(
        os.environ,
        REDIS_URL=url,
        SUPERFLOW_DATA_DIR=str(config.data_dir.absolute()),
        SUPERFLOW_SECRET_KEY="restart",
        SUPERFLOW_TICK_SECONDS="0.2",
        SUPERFLOW_STUCK_AFTER_SECONDS="2",
        SUPERFLOW_BATCH_SIZE="50",
    )
    worker = spawn([*SUPERFLOW, "worker"], env=env)
    try:
        persons = consenting_persons(rt, 1500)
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, *persons[:1000])
        # Redis goes away while the worker is in the middle of the work.
        assert redis_until(lambda: rt.store.stats(flow.id).get("completed", 0) >= 100, timeout=60)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        time.sleep(1.5)
        assert worker.poll() is None, "the worker is still there while Redis is away"
        server = EmbeddedRedis(tmp_path / "redis-home")
        server.start()

        assert redis_until(lambda: signed_up(rt, *persons[1000:]) is None, timeout=60)
        done = redis_until(lambda: rt.store.stats(flow.id).get("completed", 0) == 1500, timeout=120)
        assert worker.poll() is None, "the worker outlived the restart"
        assert done, f"the worker went on: {rt.store.stats(flow.id)}"
        recipients = [m["recipient"] for m in Outbox(config).messages("email", limit=5000)]
        assert len(recipients) == len(set(recipients)) == 1500
    finally:
        stop(worker)
        rt.close()
        server.stop()
