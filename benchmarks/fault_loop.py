"""Run a real flow under one fault after another and count what every participant got.

    python benchmarks/fault_loop.py [--persons 1000] [--kills 20] [--only kills,redis,...]

The flow: update contact → send email (SMTP) → send SMS (``http_gateway``) → create
sale → add to selection.  Two ``superflow worker`` processes; the SMTP server and
the SMS gateway are ``fault_servers.py`` processes; Redis is a redis-server with an
append-only file.  Scenarios, each on fresh data:

- ``kills``: events one at a time at a steady rate, and ``--kills`` SIGKILLs of a
  worker RQ reports busy, each replaced at once;
- ``redis``: Redis SIGKILLed mid-run and started again on its file;
- ``smtp-down``: the SMTP server killed mid-run, started again 30 s later;
- ``smtp-451``: 10 % of recipients greylisted (451) once;
- ``smtp-drop``: 2 % of messages taken, then the connection dropped before the reply;
- ``gateway-storm``: 70 % of gateway requests answered 500 or 429 for 20 s;
- ``gateway-slow``: 5 % of SMS answered later than the sender waits (2 s).

Per scenario it prints emails and SMS duplicated, never sent to a completed
participant, participants lost or stuck, messages in doubt named in histories,
counter errors, sales and contact updates per person, the longest handover after a
kill, and the time from the last fault to everyone done.  Exits 1 when a scenario
is not exactly once (a duplicate allowed only where a history declares it in doubt).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import redis
from rq import Worker

from superflow import flows
from superflow import heartbeat
from superflow.config import Config
from superflow.crashtest import COUNTER_FIELD
from superflow.crashtest import crash_flow_doc
from superflow.embedded_redis import EmbeddedRedis
from superflow.events import Event
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.processes import wait_for_port
from superflow.runtime import Runtime
from superflow.testing import consenting_persons
from superflow.testing import until

#: Redis's errors while it is killed and restarted only mean "not yet".
redis_until = partial(until, tolerating=(redis.RedisError,))

HEARTBEAT = 2.0
SERVERS = Path(__file__).with_name("fault_servers.py")
SCENARIOS = ("kills", "redis", "smtp-down", "smtp-451", "smtp-drop", "gateway-storm", "gateway-slow")


def fault_flow() -> dict[str, Any]:
    doc = crash_flow_doc()
    sale = {"id": "sale", "type": "create_sale", "settings": {"title": "Fault loop", "amount": 1}}
    doc["steps"].insert(3, sale)
    return doc


class Server:
    """One fault server process, its record of messages taken and its mode file."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.port = kind, free_port()
        self.record, self.mode_file = folder / f"{kind}.jsonl", folder / f"{kind}.mode"
        self.record.touch()
        self.mode("ok")
        self.process: Any = None
        self.start()

    def start(self) -> None:
        args = [sys.executable, str(SERVERS), self.kind, "--port", str(self.port)]
        args += ["--record", str(self.record), "--mode", str(self.mode_file)]
        self.process = spawn(args)
        wait_for_port(self.port)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def mode(self, text: str) -> None:
        self.mode_file.write_text(text)

    def taken(self) -> list[str]:
        return [json.loads(line)["to"] for line in self.record.read_text().splitlines() if line.strip()]


def feed(rt: Runtime, ids: list[str], seconds: float) -> None:
    """Send one event per person, one at a time, evenly over ``seconds``."""
    start = time.monotonic()
    for n, person_id in enumerate(ids):
        time.sleep(max(0.0, start + n * seconds / len(ids) - time.monotonic()))
        rt.emit([Event("api.event", person_id, {"name": "crash"})])


def run(scenario: str, tmp: Path, persons: int, kills: int, rng: random.Random) -> dict[str, Any]:
    folder = tmp / scenario
    folder.mkdir()
    server = EmbeddedRedis(folder / "redis-home")
    url = server.start()
    smtp, gateway = Server("smtp", folder), Server("gateway", folder)
    config = Config(
        data_dir=folder / "data",
        redis_url=url,
        secret_key="fault-loop",
        tick_seconds=0.2,
        batch_size=50,
        heartbeat_seconds=HEARTBEAT,
        stuck_after_seconds=600,
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout=5.0,
        sms_provider="http_gateway",
    )
    gateway_url = f"http://127.0.0.1:{gateway.port}/send"
    rt = Runtime(replace(config, extra={"sms_gateway_url": gateway_url}))
    crm = rt.crm
    crm.define_field(COUNTER_FIELD, "Touches", "number")
    crm.create_selection("Fault loop done")
    ids = consenting_persons(rt, persons)
    flow = flows.create(rt, fault_flow())
    flows.start(rt, flow.id)
    env = dict(
        os.environ,
        REDIS_URL=url,
        SUPERFLOW_DATA_DIR=str(config.data_dir.absolute()),
        SUPERFLOW_SECRET_KEY="fault-loop",
        SUPERFLOW_TICK_SECONDS="0.2",
        SUPERFLOW_BATCH_SIZE="50",
        SUPERFLOW_HEARTBEAT_SECONDS=str(HEARTBEAT),
        SUPERFLOW_STUCK_AFTER_SECONDS="600",
        SUPERFLOW_EMAIL_TRANSPORT="smtp",
        SUPERFLOW_SMTP_HOST="127.0.0.1",
        SUPERFLOW_SMTP_PORT=str(smtp.port),
        SUPERFLOW_SMTP_TIMEOUT="5",
        SUPERFLOW_SMS_PROVIDER="http_gateway",
        SUPERFLOW_SMS_GATEWAY_URL=gateway_url,
        SUPERFLOW_SMS_GATEWAY_TIMEOUT="2",
    )
    workers = [spawn([*SUPERFLOW, "worker"], env=env) for _ in range(2)]
    handover_waits: list[float] = []

    def done() -> bool:
        stats = rt.store.stats(flow.id)
        return stats.get("completed", 0) + stats.get("exited", 0) >= persons

    def progress(n: int) -> bool:
        return redis_until(lambda: rt.store.stats(flow.id).get("email.sent", 0) >= n, 300)

    started = time.monotonic()
    last_fault = time.monotonic()
    if scenario == "kills":
        # Events one at a time at a steady rate, long enough for every kill to land
        # on a worker in the middle of real work.
        spread = max(60.0, kills * 3.5)
        feeder = threading.Thread(target=feed, args=(rt, ids, spread), daemon=True)
        feeder.start()
        progress(20)
        give_up = time.monotonic() + 600
        while len(handover_waits) < kills and not done() and time.monotonic() < give_up:
            busy = {
                w.pid
                for w in Worker.all(queue=rt.queue)
                if w.get_state() == "busy" and w.pid in {p.pid for p in workers}
            }
            if not busy:
                time.sleep(0.05)
                continue
            victim = next(p for p in workers if p.pid in busy)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            killed_at = time.time()
            last_fault = time.monotonic()
            workers[workers.index(victim)] = spawn([*SUPERFLOW, "worker"], env=env)
            redis_until(lambda t=killed_at: any(h["at"] >= t for h in heartbeat.handovers(rt.redis)), 60)
            handover_waits.append(
                min(h["at"] for h in heartbeat.handovers(rt.redis) if h["at"] >= killed_at) - killed_at
            )
            time.sleep(rng.uniform(0.2, 1.0))
        feeder.join()
    else:
        rt.emit([Event("api.event", pid, {"name": "crash"}) for pid in ids])
    if scenario == "redis":
        progress(persons // 4)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        time.sleep(2)
        server = EmbeddedRedis(folder / "redis-home")
        server.start()
        last_fault = time.monotonic()
    elif scenario == "smtp-down":
        progress(persons // 4)
        smtp.kill()
        time.sleep(30)
        smtp.start()
        last_fault = time.monotonic()
    elif scenario != "kills":
        mode = {
            "smtp-451": (smtp, "451 0.1"),
            "smtp-drop": (smtp, "drop 0.02"),
            "gateway-storm": (gateway, "storm 0.7"),
            "gateway-slow": (gateway, "slow 0.05 3"),
        }[scenario]
        mode[0].mode(mode[1])
        if scenario == "gateway-storm":
            time.sleep(20)
            gateway.mode("ok")
        last_fault = time.monotonic()
    finished = redis_until(done, 600)
    recovery = time.monotonic() - last_fault
    for worker in workers:
        stop(worker)

    emails, texts = smtp.taken(), gateway.taken()
    people = crm.get_persons(ids)
    addresses = {pid: people[pid]["email"] for pid in ids}
    phones = {pid: people[pid].get("mobile") or people[pid].get("phone") for pid in ids}
    parts = rt.store.participants(rt.store.flow_participant_ids(flow.id))
    completed = {p.person_id for p in parts.values() if p.status == "completed"}
    got_email, got_sms = Counter(emails), Counter(texts)
    stats = rt.store.stats(flow.id)
    in_doubt = [str(e[3]) for p in parts.values() for e in p.entries if "in doubt" in str(e[3])]
    sales = Counter(len(crm.list_sales(pid)) for pid in ids)
    touches = Counter(int(people[pid]["fields"].get(COUNTER_FIELD) or 0) for pid in ids)
    report = {
        "scenario": scenario,
        "finished": finished,
        "email dup": sum(n - 1 for n in got_email.values() if n > 1),
        "sms dup": sum(n - 1 for n in got_sms.values() if n > 1),
        "email never sent": sum(1 for pid in completed if not got_email[addresses[pid]]),
        "sms never sent": sum(1 for pid in completed if not got_sms[phones[pid]]),
        "completed": stats.get("completed", 0),
        "exited": stats.get("exited", 0),
        "stuck": stats.get("active", 0),
        "lost": persons - len(parts),
        "in doubt": len(in_doubt),
        "email counter error": stats.get("email.sent", 0) - len(got_email),
        "sms counter error": stats.get("sms.sent", 0) - len(got_sms),
        "sales per person": dict(sales),
        "updates per person": dict(touches),
        "longest handover s": round(max(handover_waits), 1) if handover_waits else None,
        "kills": len(handover_waits),
        "from last fault to done s": round(recovery, 1),
        "run s": round(time.monotonic() - started, 1),
        "doubts": sorted(Counter(d.split(";")[-1].strip() for d in in_doubt).items()),
    }
    report["exactly once"] = bool(
        finished
        and report["email never sent"] == report["sms never sent"] == 0
        and report["completed"] == persons
        and report["stuck"] == report["lost"] == 0
        and report["email dup"] + report["sms dup"] <= report["in doubt"]
        and report["email counter error"] == report["sms counter error"] == 0
        and sales == Counter({1: persons})
        and touches == Counter({1: persons})
    )
    rt.close()
    smtp.kill()
    gateway.kill()
    server.stop()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    rng = random.Random(2026)
    bad = 0
    print(f"{args.persons} persons, 2 workers, heartbeat {HEARTBEAT:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="superflow-faults-") as tmp:
        for scenario in args.only.split(","):
            report = run(scenario, Path(tmp), args.persons, args.kills, rng)
            bad += not report["exactly once"]
            print(json.dumps(report), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
