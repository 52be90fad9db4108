"""Events accepted per second by ``POST /api/v1/events`` (one per call) and
``POST /api/v1/events/batch``, through ``superflow web`` as installed (gunicorn with
its default workers and threads), with workers enrolling the persons meanwhile.

    python benchmarks/api_events.py --single 3000 --batched 20000 --workers 2
    python benchmarks/api_events.py --also dev,2x8,3x4    # other servers, single calls only

Persons are seeded into the local CRM (not timed).  ``superflow web`` and
``--workers`` ``superflow worker`` processes run on an embedded Redis; a running
flow (API event trigger → wait 30 days) enrols each person once.  The client is
``--client-procs`` processes of ``--clients`` threads each, every thread with one
kept-alive connection (``http.client``: a light client, so that the client is not
what is measured).  ``--also`` first measures single calls through other web
servers: ``dev`` is ``superflow web --dev`` (werkzeug, the server before gunicorn),
``WxT`` is gunicorn with W workers of T threads.  Then, through the default
server, the script prints single-call and batched events accepted per second, the
queue left when posting ended, and when the workers had enrolled everyone (events
handled per second from the first post), so "the workers keep up" is a number.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from superflow import apikeys
from superflow import flows
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.processes import wait_for_port
from superflow.runtime import Runtime
from superflow.webserver import default_workers

FLOW = {
    "name": "API events benchmark",
    "trigger": {"type": "api_event", "settings": {"name": "bench"}},
    "steps": [{"id": "hold", "type": "wait", "settings": {"amount": 30, "unit": "days"}}],
}
Body = tuple[str, bytes]


def client_process(port: int, key: str, bodies: list[Body], threads: int, go: Any, results: Any) -> None:
    """One client process: ``threads`` threads, one kept-alive connection each."""
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(conn: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()

    def client(chunk: list[Body]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for path, body in chunk:
            try:
                status, text = post(conn, path, body)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()  # the server closed a kept-alive connection before reading
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, text = post(conn, path, body)
            if status != 202:
                failures.append(f"{status} {text[:200]!r}")
        conn.close()

    workers = [threading.Thread(target=client, args=(bodies[i::threads],)) for i in range(threads)]
    go.wait()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    results.put(failures)


def post_all(port: int, key: str, bodies: list[Body], procs: int, threads: int) -> float:
    """Post every body from ``procs`` processes × ``threads`` threads; the seconds it took."""
    ctx = multiprocessing.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    children = [
        ctx.Process(target=client_process, args=(port, key, bodies[i::procs], threads, go, results))
        for i in range(procs)
    ]
    for child in children:
        child.start()
    time.sleep(1.0)  # let the children import and wait on `go`
    started = time.perf_counter()
    go.set()
    failures = [f for _ in children for f in results.get()]
    took = time.perf_counter() - started
    for child in children:
        child.join()
    if failures:
        raise SystemExit(f"{len(failures)} posts failed; the first: {failures[0]}")
    return took


def web_args(kind: str) -> tuple[list[str], str]:
    """``superflow web`` options for ``default``, ``dev`` or ``WxT``, and a label."""
    if kind == "default":
        return [], f"gunicorn, default {default_workers()} workers x {Config().web_threads} threads"
    if kind == "dev":
        return ["--dev"], "werkzeug (superflow web --dev)"
    workers, threads = (int(n) for n in kind.lower().split("x"))
    return [
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ], f"gunicorn, {workers} workers x {threads} threads"


def singles(persons: list[str]) -> list[Body]:
    return [("/api/v1/events", json.dumps({"type": "bench", "person_id": p}).encode()) for p in persons]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=3000, help="Events posted one per call.")
    parser.add_argument("--batched", type=int, default=20000, help="Events posted in batches.")
    parser.add_argument("--batch", type=int, default=500, help="Events per batch call.")
    parser.add_argument("--clients", type=int, default=8, help="Client threads per client process.")
    parser.add_argument("--client-procs", type=int, default=2, help="Client processes.")
    parser.add_argument("--workers", type=int, default=2, help="superflow worker processes.")
    parser.add_argument(
        "--also", default="", help="Other web servers to measure first: dev, WxT (comma separated)."
    )
    args = parser.parse_args()
    also = [k.strip() for k in args.also.split(",") if k.strip()]
    total = args.single * (len(also) + 1) + args.batched
    lines: list[str] = []
    clients = f"{args.client_procs}x{args.clients} clients"

    with tempfile.TemporaryDirectory(prefix="superflow-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        url = server.start()
        rt = Runtime(Config(data_dir=Path(tmp), redis_url=url, secret_key="bench"))
        procs: list[Any] = []
        web = None
        try:
            from superflow.plugins.local_crm.seed import seed_persons

            t = time.perf_counter()
            persons = seed_persons(rt.crm, total)
            print(f"seeded {total} persons in {time.perf_counter() - t:.1f}s (not timed)")
            flow = flows.start(rt, flows.create(rt, FLOW).id)
            rt.queue.empty()
            key, _ = apikeys.create(rt.redis, "bench", "events", limit=10_000_000, window=60)
            env = dict(os.environ, REDIS_URL=url, SUPERFLOW_DATA_DIR=tmp, SUPERFLOW_SECRET_KEY="bench")
            for i in range(args.workers):
                procs.append(spawn([*SUPERFLOW, "worker", "--name", f"b{i}"], env=env))

            def start_web(kind: str) -> tuple[Any, int, str]:
                options, label = web_args(kind)
                port = free_port()
                with open(Path(tmp) / f"web-{kind}.log", "wb") as log:
                    process = spawn(
                        [*SUPERFLOW, "web", "--port", str(port), *options],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                wait_for_port(port, seconds=60)
                return process, port, label

            def wait_enrolled(count: int) -> None:
                while rt.store.stats(flow.id).get("enrolled", 0) < count:
                    if any(p.poll() is not None for p in procs):
                        raise SystemExit("a worker process died")
                    time.sleep(0.05)

            used = 0
            for kind in also:
                web, port, label = start_web(kind)
                bodies = singles(persons[used : used + args.single])
                seconds = post_all(port, key, bodies, args.client_procs, args.clients)
                stop(web)
                web = None
                used += args.single
                lines.append(f"single:  {args.single / seconds:7,.0f} events/s accepted, {label}, {clients}")
                print(lines[-1], flush=True)
                wait_enrolled(used)

            web, port, label = start_web("default")
            single = singles(persons[used : used + args.single])
            rest = persons[used + args.single :]
            batches = [
                (
                    "/api/v1/events/batch",
                    json.dumps(
                        {"events": [{"type": "bench", "person_id": p} for p in rest[i : i + args.batch]]}
                    ).encode(),
                )
                for i in range(0, len(rest), args.batch)
            ]
            first_post = time.perf_counter()
            single_s = post_all(port, key, single, args.client_procs, args.clients)
            batch_s = post_all(port, key, batches, args.client_procs, args.clients)
            posted = time.perf_counter()
            queued_at_end = rt.queue.count
            wait_enrolled(total)
            done = time.perf_counter()
        finally:
            if web is not None:
                stop(web)
            for p in procs:
                stop(p)
            rt.close()
            server.stop()

    print(f"single:  {args.single / single_s:7,.0f} events/s accepted, {label} (as installed), {clients}")
    print(
        f"batched: {args.batched / batch_s:7,.0f} events/s accepted, {args.batch} per call, "
        f"{label}, {clients}"
    )
    print(f"queue when posting ended: {queued_at_end} jobs; all {total} enrolled {done - posted:.1f}s later")
    handled = (args.single + args.batched) / (done - first_post)
    print(f"events handled by {args.workers} workers: {handled:,.0f} events/s from the first post")
    return 0


if __name__ == "__main__":
    sys.exit(main())
