"""Pages of a big flow's participants: roster reads and the JSON API, on this machine.

    python benchmarks/participants_page.py --participants 1000000

Builds one flow with N participants on an embedded Redis (not timed as reads):
participant documents with a plausible history and the roster indexes, written in
batches through :class:`superflow.store.Changes` as the engine writes them, spread
over statuses (about a quarter active, spread over the steps, weighted to the waits)
and steps.  Then it measures p50 / p95 / max of

(a) ``roster.page`` plus loading the page's participant documents, for each filter
    and sort, at offsets from the first page to deep into the set;
(b) real HTTP GETs of ``/api/v1/flows/<id>/participants`` against a running
    ``superflow web``, for the same cases;
(c) real HTTP GETs of the admin's Participants tab (``/flows/<id>/participants``,
    signed in, the page's persons read from the CRM in one batch), same cases;
(d) the admin's Reports tab and its live figures (``/flows/<id>/reports``,
    ``/flows/<id>/live.json``) for this flow and for a flow of ten participants:
    they read counters only, so the two should cost the same;
(e) ending the flow: how long cancelling its active participants takes (read from
    the step indexes, the finished ones untouched);

and prints Redis memory per participant (INFO memory before and after the build),
with the roster indexes' share.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from superflow import apikeys
from superflow import flows
from superflow import keys
from superflow import roster
from superflow import users
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.keys import participant_seq
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.processes import wait_for_port
from superflow.runtime import Runtime
from superflow.store import Changes
from superflow.store import Participant

STEPS = [
    {
        "id": "hello",
        "type": "send_email",
        "settings": {"from_address": "bench@superflow.test", "subject": "Hello", "html": "<p>Hi</p>"},
    },
    {"id": "wait1", "type": "wait", "settings": {"amount": 2, "unit": "days"}},
    {
        "id": "touch",
        "type": "update_contact",
        "settings": {"changes": [{"field": "score", "action": "add", "value": 1}]},
    },
    {
        "id": "tips",
        "type": "send_email",
        "settings": {"from_address": "bench@superflow.test", "subject": "Tips", "html": "<p>Tips</p>"},
    },
    {"id": "wait2", "type": "wait", "settings": {"amount": 7, "unit": "days"}},
    {"id": "text", "type": "send_sms", "settings": {"sender": "Bench", "text": "Hi!"}},
    {"id": "wait3", "type": "wait", "settings": {"amount": 30, "unit": "days"}},
    {
        "id": "last",
        "type": "send_email",
        "settings": {"from_address": "bench@superflow.test", "subject": "Bye", "html": "<p>Bye</p>"},
    },
]
STEP_IDS = [s["id"] for s in STEPS]
# Where the active ones are: mostly in the waits.
ACTIVE_AT = {"hello": 1, "wait1": 30, "touch": 1, "tips": 1, "wait2": 25, "text": 1, "wait3": 40, "last": 1}
STATUS_SHARE = {"active": 25, "completed": 45, "succeeded": 8, "exited": 15, "cancelled": 7}
BATCH = 5000


def flow_doc() -> dict[str, Any]:
    return {
        "name": "Participants page benchmark",
        "trigger": {"type": "api_event", "settings": {"name": "bench"}},
        "steps": STEPS,
    }


def participant(flow_id: str, n: int, rng: random.Random, start: float) -> Participant:
    """The ``n``-th participant, enrolled in order over a year, in a random state."""
    status = rng.choices(list(STATUS_SHARE), weights=list(STATUS_SHARE.values()))[0]
    enrolled = int(start + n * 30)
    if status == "active":
        step = rng.choices(list(ACTIVE_AT), weights=list(ACTIVE_AT.values()))[0]
    else:
        step = STEP_IDS[-1] if status == "completed" else rng.choice(STEP_IDS)
    reached = STEP_IDS.index(step)
    p = Participant(
        id=f"{flow_id}.{n}",
        flow_id=flow_id,
        person_id=str(n),
        version=1,
        status=status,
        step=step,
        enrolled=enrolled,
        updated=enrolled,
    )
    p.note(enrolled, None, "enrolled", "api.event")
    at = enrolled
    for step_id in STEP_IDS[: reached + (status == "completed")]:
        at += 60 if not step_id.startswith("wait") else 86400
        p.note(at, step_id, "step", "sent" if step_id in ("hello", "tips", "text", "last") else "")
    if status == "active" and step.startswith("wait"):
        p.wait = {"k": "time", "u": float(at + 86400)}
    elif status != "active":
        p.reason = {"exited": "no e-marketing consent", "cancelled": "flow ended"}.get(status, "")
        p.note(at + 60, step, status, p.reason)
    if reached > 0:
        p.last_sending = {"channel": "email", "status": "sent", "to": f"p{n}@example.com", "at": at}
    return p


def build(rt: Runtime, flow_id: str, n: int) -> None:
    rng = random.Random(7)
    start = time.time() - n * 30
    for first in range(1, n + 1, BATCH):
        changes = Changes()
        for i in range(first, min(first + BATCH, n + 1)):
            p = participant(flow_id, i, rng, start)
            changes.save(p, p.enrolled)
            changes.count(flow_id, p.enrolled, enrolled=1, **{p.status: 1})
            if p.status == "active":
                changes.count(flow_id, p.enrolled, **{f"at:{p.step}": 1})
        pipe = rt.redis.pipeline()
        pipe.multi()
        changes.commit(pipe, lambda pids, pipe: None)
        pipe.set(participant_seq(flow_id), min(first + BATCH - 1, n))
        pipe.execute()


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms"


def cases(total: int, counts: dict[str, dict[str, int]]) -> list[tuple[str, dict[str, Any], int]]:
    """(label, filters, offset): each filter and sort at its first page, the middle
    and 90 % of the way in."""
    out = []
    sized = [
        ("everyone, newest first", {}, total),
        ("everyone, oldest first", {"order": "asc"}, total),
        ("status=completed", {"status": "completed"}, counts["status"]["completed"]),
        ("status=active (all steps merged)", {"status": "active"}, counts["status"]["active"]),
        ("step=wait3", {"step": "wait3"}, counts["step"].get("wait3", 0)),
        ("sort=status desc", {"sort": "status"}, total),
        ("sort=status asc", {"sort": "status", "order": "asc"}, total),
        ("sort=step asc", {"sort": "step", "order": "asc"}, total),
        ("status=active sort=step", {"status": "active", "sort": "step"}, counts["status"]["active"]),
    ]
    for label, filters, size in sized:
        for where, offset in (("first page", 0), ("middle", size // 2), ("90 %", size * 9 // 10)):
            out.append((f"{label}, {where} (offset {offset:,})", filters, offset))
    return out


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return samples


def signed_in(rt: Runtime, base: str) -> requests.Session:
    """A browser-like session signed in to the admin as a viewer."""
    users.create(rt.redis, "bench-viewer", "bench-password-1", "viewer")
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"username": "bench-viewer", "password": "bench-password-1", "csrf_token": token}
    session.post(f"{base}/login", data=form, timeout=10).raise_for_status()
    return session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=50, help="Rows per page.")
    parser.add_argument("--repeat", type=int, default=100, help="Timed reads per case.")
    args = parser.parse_args()
    n = args.participants

    with tempfile.TemporaryDirectory(prefix="superflow-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        url = server.start()
        rt = Runtime(Config(data_dir=Path(tmp), redis_url=url, secret_key="bench"))
        web = None
        try:
            flow = flows.start(rt, flows.create(rt, flow_doc()).id)
            rt.queue.empty()
            memory_before = int(rt.redis.info("memory")["used_memory"])
            t = time.perf_counter()
            build(rt, flow.id, n)
            built = time.perf_counter() - t
            memory_after = int(rt.redis.info("memory")["used_memory"])
            index_bytes = sum(
                int(rt.redis.memory_usage(key, samples=0) or 0)
                for key in rt.redis.scan_iter(match=keys.flow_index(flow.id, "*"), count=1000)
            )
            counts = roster.counts(rt.redis, flow.id)
            print(f"built {n:,} participants in {built:.1f}s: {counts['status']}")
            print(f"  active by step: {counts['step']}")
            print(
                f"Redis memory per participant: {(memory_after - memory_before) / n:,.0f} bytes "
                f"(roster indexes: {index_bytes / n:,.0f} bytes of it)"
            )

            print(f"\n(a) roster.page + loading the page's documents, limit {args.limit}, {args.repeat} each")
            for label, filters, offset in cases(n, counts):

                def read(filters: dict[str, Any] = filters, offset: int = offset) -> None:
                    found = roster.page(
                        rt.redis,
                        flow.id,
                        status=filters.get("status"),
                        step=filters.get("step"),
                        sort=filters.get("sort", "enrolled"),
                        descending=filters.get("order", "desc") == "desc",
                        offset=offset,
                        limit=args.limit,
                        steps=STEP_IDS,
                    )
                    loaded = rt.store.participants(found.ids)
                    assert len(loaded) == len(found.ids) == min(args.limit, found.total - offset)

                print(f"  {label:58} {percentiles(timed(read, args.repeat))}")

            key, _ = apikeys.create(rt.redis, "bench", "viewer", limit=10_000_000, window=60)
            port = free_port()
            env = dict(os.environ, REDIS_URL=url, SUPERFLOW_DATA_DIR=tmp, SUPERFLOW_SECRET_KEY="bench")
            web = spawn(
                [*SUPERFLOW, "web", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            wait_for_port(port)
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {key}"
            endpoint = f"{base}/api/v1/flows/{flow.id}/participants"
            print(
                f"\n(b) GET /api/v1/flows/{flow.id}/participants, limit {args.limit}, {args.repeat} GETs each"
            )
            for label, filters, offset in cases(n, counts):

                def get(filters: dict[str, Any] = filters, offset: int = offset) -> None:
                    r = http.get(endpoint, params=dict(filters, offset=offset, limit=args.limit), timeout=10)
                    r.raise_for_status()
                    assert len(r.json()["participants"]) == min(args.limit, r.json()["total"] - offset)

                print(f"  {label:58} {percentiles(timed(get, args.repeat))}")

            admin = signed_in(rt, base)
            print(
                f"\n(c) GET /flows/{flow.id}/participants (admin tab), {args.limit} rows,"
                f" {args.repeat} GETs each"
            )
            for label, filters, offset in cases(n, counts):
                if offset % args.limit:
                    continue

                def tab(filters: dict[str, Any] = filters, offset: int = offset) -> None:
                    params = dict(filters, page=offset // args.limit + 1)
                    r = admin.get(f"{base}/flows/{flow.id}/participants", params=params, timeout=10)
                    r.raise_for_status()
                    assert r.text.count("data-participant=") == min(args.limit, n - offset) or filters, (
                        r.text[-500:]
                    )

                print(f"  {label:58} {percentiles(timed(tab, args.repeat))}")

            small = flows.start(rt, flows.create(rt, dict(flow_doc(), name="Small")).id)
            build(rt, small.id, 10)
            print(f"\n(d) Reports tab and live figures, {args.repeat} GETs each")
            for name, fid, size in (
                ("big flow", flow.id, n),
                ("10-participant flow", small.id, 10),
            ):
                for path in ("reports", "live.json"):

                    def report(fid: str = fid, path: str = path) -> None:
                        admin.get(f"{base}/flows/{fid}/{path}", timeout=10).raise_for_status()

                    print(f"  {path:10} {name} ({size:,}) {'':22} {percentiles(timed(report, args.repeat))}")

            active = roster.counts(rt.redis, flow.id)["status"]["active"]
            t = time.perf_counter()
            cancelled = rt.engine.end(flow.id)
            took = time.perf_counter() - t
            print(
                f"\n(e) ending the flow: {cancelled:,} of {active:,} active participants cancelled"
                f" in {took:.1f}s ({cancelled / took:,.0f}/s), {n - active:,} finished ones not read"
            )
        finally:
            if web is not None:
                stop(web)
            rt.close()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
