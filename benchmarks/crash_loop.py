"""Kill a worker with SIGKILL mid-run, over and over, and count what participants got.

    python benchmarks/crash_loop.py --rounds 20 --persons 300 [--outbox]

Each round: fresh data folder, N persons enrolled into update-contact → email →
SMS → add-to-selection, the worker killed once a random number of emails are out
(so the kill lands in a different step and batch each time), a new
worker finishing the run.  Emails go over SMTP to a real local SMTP server (aiosmtpd,
in this process; the workers are separate processes), one message at a time, so a
kill lands in the middle of a batch; ``--outbox`` sends them to the outbox instead.
Prints one line per round — emails lost (a participant completed without it),
duplicates, messages in doubt named in the histories, report counters against what
went out — and a summary; exits 1 if any round was not exactly once (a duplicate is
allowed only where the history declares the message in doubt).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from superflow.config import Config
from superflow.crashtest import run_crash_round
from superflow.embedded_redis import EmbeddedRedis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--outbox", action="store_true", help="emails to the outbox, not SMTP")
    args = parser.parse_args()
    inbox, port, controller = None, 0, None
    if not args.outbox:
        from aiosmtpd.controller import Controller

        from superflow.processes import free_port
        from superflow.testing import Inbox

        inbox, port = Inbox(), free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()

    with tempfile.TemporaryDirectory(prefix="superflow-crash-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis-home")
        url = server.start()
        bad = 0
        rng = random.Random(2026)
        try:
            for n in range(1, args.rounds + 1):
                config = Config(data_dir=Path(tmp) / f"round-{n}", redis_url=url, secret_key="crash-loop")
                r = run_crash_round(
                    config,
                    persons=args.persons,
                    kill_after=rng.randint(1, args.persons * 3 // 4),
                    inbox=inbox,
                    smtp_port=port,
                )
                ok = "exactly once" if r.exactly_once else "NOT EXACTLY ONCE"
                bad += not r.exactly_once
                writes = ", ".join(f"{k}x:{v}" for k, v in sorted(r.crm_writes.items()))
                print(
                    f"round {n:3}: killed after {r.killed_after_emails:4} emails; "
                    f"emails {r.emails} (lost {r.lost_emails}, dup {r.duplicate_emails}), "
                    f"sms {r.sms} (dup {r.duplicate_sms}), in doubt {r.in_doubt}, "
                    f"counter errors email {r.email_counter - (r.emails - r.duplicate_emails):+d} "
                    f"sms {r.sms_counter - (r.sms - r.duplicate_sms):+d}, "
                    f"crm writes per person {{{writes}}}, completed {r.completed}, stuck {r.stuck}, "
                    f"done {r.after_kill_seconds:.1f}s after the kill, {r.seconds:.1f}s in all: {ok}",
                    flush=True,
                )
        finally:
            server.stop()
            if controller is not None:
                controller.stop()
    print(f"{args.rounds} rounds x {args.persons} participants: {args.rounds - bad} exactly once, {bad} not")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
