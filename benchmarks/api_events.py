"""Events accepted per second by ``POST /api/v1/events`` (one per call) and
``POST /api/v1/events/batch``, with workers enrolling the persons meanwhile.

    python benchmarks/api_events.py --single 2000 --batched 20000 --clients 4 --workers 2

Persons are seeded into the local CRM (not timed).  ``superflow web`` and
``--workers`` ``superflow worker`` processes run on an embedded Redis; a running
flow (API event trigger → wait 30 days) enrols each person once.  Client threads
post the events; the script prints events accepted per second for each kind, the
queue left when posting ended, and when the workers had enrolled everyone (events
handled per second from the first post), so "the workers keep up" is a number.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from superflow import apikeys, flows
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.processes import SUPERFLOW, free_port, spawn, stop, wait_for_port
from superflow.runtime import Runtime

FLOW = {
    "name": "API events benchmark",
    "trigger": {"type": "api_event", "settings": {"name": "bench"}},
    "steps": [{"id": "hold", "type": "wait", "settings": {"amount": 30, "unit": "days"}}],
}


def post_all(base: str, key: str, bodies: list[tuple[str, dict]], clients: int) -> float:
    """Post every body from ``clients`` threads; return the seconds it took."""
    chunks = [bodies[i::clients] for i in range(clients)]
    failures: list[str] = []

    def client(chunk: list[tuple[str, dict]]) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        for path, body in chunk:
            r = http.post(base + path, json=body, timeout=60)
            if r.status_code != 202:
                failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} posts failed; the first: {failures[0]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="Events posted one per call.")
    parser.add_argument("--batched", type=int, default=20000, help="Events posted in batches.")
    parser.add_argument("--batch", type=int, default=500, help="Events per batch call.")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    total = args.single + args.batched

    with tempfile.TemporaryDirectory(prefix="superflow-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        url = server.start()
        rt = Runtime(Config(data_dir=Path(tmp), redis_url=url, secret_key="bench"))
        procs = []
        try:
            from superflow.plugins.local_crm.seed import seed_persons

            t = time.perf_counter()
            persons = seed_persons(rt.crm, total)
            print(f"seeded {total} persons in {time.perf_counter() - t:.1f}s (not timed)")
            flow = flows.start(rt, flows.create(rt, FLOW).id)
            rt.queue.empty()
            key, _ = apikeys.create(rt.redis, "bench", "events", limit=10_000_000, window=60)
            port = free_port()
            env = dict(os.environ, REDIS_URL=url, SUPERFLOW_DATA_DIR=tmp, SUPERFLOW_SECRET_KEY="bench")
            procs.append(spawn([*SUPERFLOW, "web", "--port", str(port)], env=env))
            for i in range(args.workers):
                procs.append(spawn([*SUPERFLOW, "worker", "--name", f"b{i}"], env=env))
            base = f"http://127.0.0.1:{port}"
            wait_for_port(port)

            single = [("/api/v1/events", {"type": "bench", "person_id": p}) for p in persons[: args.single]]
            rest = persons[args.single :]
            batches = [
                (
                    "/api/v1/events/batch",
                    {"events": [{"type": "bench", "person_id": p} for p in rest[i : i + args.batch]]},
                )
                for i in range(0, len(rest), args.batch)
            ]
            first_post = time.perf_counter()
            single_s = post_all(base, key, single, args.clients)
            batch_s = post_all(base, key, batches, args.clients)
            posted = time.perf_counter()
            queued_at_end = rt.queue.count
            while rt.store.stats(flow.id).get("enrolled", 0) < total:
                if any(p.poll() is not None for p in procs):
                    raise SystemExit("a web or worker process died")
                time.sleep(0.05)
            done = time.perf_counter()
        finally:
            for p in procs:
                stop(p)
            rt.close()
            server.stop()

    rate = args.single / single_s
    print(
        f"single:  {args.single} events, one per call, {args.clients} clients: {rate:,.0f} events/s accepted"
    )
    print(
        f"batched: {args.batched} events, {args.batch} per call, {args.clients} clients: "
        f"{args.batched / batch_s:,.0f} events/s accepted"
    )
    print(f"queue when posting ended: {queued_at_end} jobs; all {total} enrolled {done - posted:.1f}s later")
    handled = total / (done - first_post)
    print(f"events handled by {args.workers} workers: {handled:,.0f} events/s from the first post")
    return 0


if __name__ == "__main__":
    sys.exit(main())
