"""Kill a worker with SIGKILL in the middle of a run and check that every
participant still got each effect exactly once.

Used by the test suite (one round) and by ``benchmarks/crash_loop.py`` (many
rounds).  Everything is real: a redis-server, ``superflow worker`` processes, the
local CRM and the outbox on disk.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

from superflow import flows
from superflow.config import Config
from superflow.events import Event
from superflow.processes import SUPERFLOW
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime

COUNTER_FIELD = "touches"
HEARTBEAT = 1.0


def crash_flow_doc() -> dict[str, Any]:
    """Four side-effecting steps: a CRM write, an email, an SMS, a selection."""
    sender = {
        "from_address": "crash@superflow.test",
        "subject": "Hi {{person.first_name}}",
        "html": "<p>x</p>",
    }
    return {
        "name": "Crash test",
        "trigger": {"type": "api_event", "settings": {"name": "crash"}},
        "steps": [
            {
                "id": "touch",
                "type": "update_contact",
                "settings": {"changes": [{"field": COUNTER_FIELD, "action": "add", "value": 1}]},
            },
            {"id": "mail", "type": "send_email", "settings": sender},
            {
                "id": "text",
                "type": "send_sms",
                "settings": {"sender": "Crash", "text": "Hi {{person.first_name}}"},
            },
            {"id": "mark", "type": "add_to_selection", "settings": {"selection": "1"}},
        ],
    }


@dataclass
class CrashReport:
    participants: int
    killed_after_emails: int
    emails: int
    duplicate_emails: int
    sms: int
    duplicate_sms: int
    crm_writes: Counter[int]
    completed: int
    stuck: int
    exits: dict[str, int]
    seconds: float
    in_doubt: int = 0
    email_counter: int = 0
    sms_counter: int = 0
    after_kill_seconds: float = 0.0

    @property
    def lost_emails(self) -> int:
        return self.participants - (self.emails - self.duplicate_emails)

    @property
    def exactly_once(self) -> bool:
        """Everyone got each effect, nothing lost, a duplicate only where the history
        declares a message in doubt, and the report counters count each participant's
        message once."""
        return (
            self.lost_emails == 0
            and self.sms - self.duplicate_sms == self.participants
            and self.completed == self.participants
            and self.duplicate_emails + self.duplicate_sms <= self.in_doubt
            and self.crm_writes == Counter({1: self.participants})
            and self.stuck == 0
            and self.email_counter == self.emails - self.duplicate_emails
            and self.sms_counter == self.sms - self.duplicate_sms
        )


def run_crash_round(
    config: Config,
    persons: int = 200,
    kill_after: int = 1,
    timeout: float = 120.0,
    inbox: Any = None,
    smtp_port: int = 0,
    freeze: bool = False,
) -> CrashReport:
    """Enrol ``persons``, SIGKILL the worker once ``kill_after`` emails went out, let
    a new worker finish, and count what every participant got.

    With ``inbox`` and ``smtp_port`` (a running :class:`superflow.testing.Inbox`
    SMTP server) the emails go out over SMTP, one message at a time, so the kill
    lands in the middle of a batch; otherwise into the outbox.

    ``freeze`` stops the worker with SIGSTOP instead (a process paused, or cut off
    from Redis, longer than the heartbeat) and lets it go on (SIGCONT) once the new
    worker has finished its participants: what it then writes must change nothing."""
    from superflow.plugins.local_crm.seed import seed_persons
    from superflow.plugins.outbox import Outbox

    # Handing over must come from the heartbeat: a lease outlives the whole round.
    config = replace(
        config, stuck_after_seconds=600, heartbeat_seconds=HEARTBEAT, tick_seconds=0.2, batch_size=25
    )
    rt = Runtime(config)
    rt.redis.flushall()
    started_at = time.monotonic()
    crm = rt.crm
    crm.define_field(COUNTER_FIELD, "Touches", "number")
    if not crm.list_selections():
        crm.create_selection("Crash test done")
    person_ids = seed_persons(crm, persons)
    for person_id in person_ids:
        crm.set_consent(person_id, "emarketing", True)
    crm.update_persons([(pid, {"email_blocked": False}, None) for pid in person_ids])
    flow = flows.create(rt, crash_flow_doc())
    flows.start(rt, flow.id)
    outbox = Outbox(config)
    emails_before = outbox.count("email")
    sms_before = outbox.count("sms")

    env = dict(
        os.environ,
        REDIS_URL=config.redis_url,
        SUPERFLOW_DATA_DIR=str(Path(config.data_dir).absolute()),
        SUPERFLOW_STUCK_AFTER_SECONDS="600",
        SUPERFLOW_HEARTBEAT_SECONDS=str(HEARTBEAT),
        SUPERFLOW_TICK_SECONDS="0.2",
        SUPERFLOW_BATCH_SIZE="25",
        SUPERFLOW_SECRET_KEY=config.secret_key or "crash",
    )
    if inbox is not None:
        env.update(
            SUPERFLOW_EMAIL_TRANSPORT="smtp",
            SUPERFLOW_SMTP_HOST="127.0.0.1",
            SUPERFLOW_SMTP_PORT=str(smtp_port),
            SUPERFLOW_SMTP_CONNECTIONS=str(config.smtp_connections),
        )
        emails_before = len(inbox.messages)

    def emails_out() -> list[str]:
        if inbox is not None:
            return list(inbox.to())[emails_before:]
        return [m["recipient"] for m in outbox.messages("email", limit=10 * persons)][
            : outbox.count("email") - emails_before
        ]

    worker_cmd = [*SUPERFLOW, "worker"]
    victim = spawn(worker_cmd, env=env)
    try:
        rt.emit([Event("api.event", pid, {"name": "crash"}) for pid in person_ids])
        how = signal.SIGSTOP if freeze else signal.SIGKILL
        killed_after = _kill_mid_run(victim, lambda: len(emails_out()), kill_after, timeout, how)
        killed_at = time.monotonic()
        survivor = spawn(worker_cmd, env=env)
        try:
            _wait_until_done(rt, flow.id, persons, timeout)
            after_kill = time.monotonic() - killed_at
            if freeze:
                os.kill(victim.pid, signal.SIGCONT)
                time.sleep(HEARTBEAT * 3)  # it finishes its round, or finds it taken over
        finally:
            stop(survivor)
    finally:
        stop(victim)

    emails = emails_out()
    texts = [m["recipient"] for m in outbox.messages("sms", limit=10 * persons)][
        : outbox.count("sms") - sms_before
    ]
    people = crm.get_persons(person_ids)
    writes = Counter(int(people[pid]["fields"].get(COUNTER_FIELD) or 0) for pid in person_ids)
    stats = rt.store.stats(flow.id)
    histories = rt.store.participants(rt.store.flow_participant_ids(flow.id))
    in_doubt = sum(1 for p in histories.values() for entry in p.entries if "in doubt" in str(entry[3]))
    report = CrashReport(
        participants=persons,
        killed_after_emails=killed_after,
        emails=len(emails),
        duplicate_emails=len(emails) - len(set(emails)),
        sms=len(texts),
        duplicate_sms=len(texts) - len(set(texts)),
        crm_writes=writes,
        completed=stats.get("completed", 0),
        stuck=stats.get("active", 0),
        exits={k[5:]: v for k, v in stats.items() if k.startswith("exit:")},
        seconds=time.monotonic() - started_at,
        in_doubt=in_doubt,
        email_counter=stats.get("email.sent", 0),
        sms_counter=stats.get("sms.sent", 0),
        after_kill_seconds=after_kill,
    )
    rt.close()
    return report


def _kill_mid_run(
    victim: Any, emails: Any, kill_after: int, timeout: float, how: signal.Signals = signal.SIGKILL
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = emails()
        if sent >= kill_after:
            os.kill(victim.pid, how)
            if how == signal.SIGKILL:
                victim.wait()
            return sent
        if victim.poll() is not None:
            raise RuntimeError(f"the worker exited by itself with code {victim.returncode}")
        time.sleep(0.002)
    raise RuntimeError("no email went out before the time limit; is the worker running?")


def _wait_until_done(rt: Runtime, flow_id: str, persons: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = rt.store.stats(flow_id)
        if stats.get("completed", 0) + stats.get("exited", 0) >= persons:
            return
        time.sleep(0.1)
