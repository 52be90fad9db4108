"""Engine throughput and Redis memory on this machine.

    python benchmarks/engine_throughput.py --participants 100000 --workers 2

N persons (seeded into the local CRM, not timed) are enrolled by API events into
update contact → send email (outbox) → send SMS (outbox) → wait 30 days, on an
embedded Redis with ``--workers`` worker processes.  The clock runs from the
first event to the moment every participant is parked in the final wait (or has
exited).  It prints wall time, step executions per second, Redis memory per
active participant, and the rate of bare RQ no-op jobs on one worker measured in
the same run, so the ratio does not depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from superflow import flows
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.events import Event
from superflow.processes import SUPERFLOW, spawn, stop
from superflow.runtime import Runtime

EFFECT_STEPS = ("touch", "mail", "text")


def flow_doc() -> dict:
    return {
        "name": "Throughput",
        "trigger": {"type": "api_event", "settings": {"name": "bench"}},
        "steps": [
            {
                "id": "touch",
                "type": "update_contact",
                "settings": {"changes": [{"field": "score", "action": "add", "value": 1}]},
            },
            {
                "id": "mail",
                "type": "send_email",
                "settings": {
                    "from_address": "bench@superflow.test",
                    "subject": "Hello {{person.first_name}}",
                    "html": "<p>Hi {{ person.first_name }} from {{ company.name | default('us', true) }}</p>",
                },
            },
            {
                "id": "text",
                "type": "send_sms",
                "settings": {"sender": "Bench", "text": "Hi {{person.first_name}}!"},
            },
            {"id": "hold", "type": "wait", "settings": {"amount": 30, "unit": "days"}},
        ],
    }


def bare_rq_rate(url: str, jobs: int) -> float:
    """No-op jobs per second through RQ's own non-forking worker."""
    from redis import Redis

    conn = Redis.from_url(url)
    queue = Queue("bare-rq-baseline", connection=conn, serializer=JSONSerializer)
    queue.enqueue_many([Queue.prepare_data("builtins.len", args=([],), result_ttl=0) for _ in range(jobs)])
    started = time.perf_counter()
    SimpleWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True, logging_level="ERROR")
    return jobs / (time.perf_counter() - started)


def used_memory(rt: Runtime) -> int:
    return int(rt.redis.info("memory")["used_memory"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--bare-jobs", type=int, default=2000)
    args = parser.parse_args()
    n = args.participants

    with tempfile.TemporaryDirectory(prefix="superflow-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        url = server.start()
        config = Config(data_dir=Path(tmp), redis_url=url, secret_key="bench", batch_size=args.batch_size)
        rt = Runtime(config)
        workers = []
        try:
            from superflow.plugins.local_crm.seed import seed_persons

            t = time.perf_counter()
            person_ids = seed_persons(rt.crm, n)
            print(f"seeded {n} persons in the local CRM in {time.perf_counter() - t:.1f}s (not timed)")
            flow = flows.create(rt, flow_doc())
            flows.start(rt, flow.id)
            memory_before = used_memory(rt)
            env = dict(
                os.environ,
                REDIS_URL=url,
                SUPERFLOW_DATA_DIR=tmp,
                SUPERFLOW_SECRET_KEY="bench",
                SUPERFLOW_BATCH_SIZE=str(args.batch_size),
            )
            for i in range(args.workers):
                workers.append(spawn([*SUPERFLOW, "worker", "--name", f"bench-{i}"], env=env))
            time.sleep(1.0)

            started = time.perf_counter()
            rt.emit([Event("api.event", pid, {"name": "bench"}) for pid in person_ids])
            while True:
                stats = rt.store.stats(flow.id)
                if stats.get("at:hold", 0) + stats.get("exited", 0) >= n:
                    break
                if any(w.poll() is not None for w in workers):
                    raise SystemExit("a worker died")
                time.sleep(0.05)
            wall = time.perf_counter() - started
            memory_after = used_memory(rt)
        finally:
            for worker in workers:
                stop(worker)

        executions = sum(stats.get(f"passed:{step}", 0) for step in EFFECT_STEPS) + stats.get("exited", 0)
        rate = executions / wall
        bare = bare_rq_rate(url, args.bare_jobs)
        per_participant = (memory_after - memory_before) / n
        rt.close()
        server.stop()

    waiting, exited = stats.get("at:hold", 0), stats.get("exited", 0)
    print(f"participants:               {n} ({waiting} waiting in the last step, {exited} exited)")
    print(f"workers:                    {args.workers} (batch size {args.batch_size})")
    print(f"wall time:                  {wall:.1f} s (target <= 60 s for 100,000)")
    print(f"step executions:            {executions} (update contact, email, SMS)")
    print(f"step executions per second: {rate:,.0f} (target >= 5,000)")
    print(f"bare RQ no-op jobs/s:       {bare:,.0f} (one SimpleWorker, same Redis)")
    print(f"ratio to bare RQ per job:   {rate / bare:.1f}x (target >= 20x)")
    print(f"Redis memory per active participant: {per_participant:,.0f} bytes (target <= 1,024)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
