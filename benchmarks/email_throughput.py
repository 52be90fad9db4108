"""Email throughput on this machine: merge-tag rendering, and rendered emails handed
to a real local SMTP server.

    python benchmarks/email_throughput.py --emails 5000 --batch 500

1. Merge-tag renders per second: subject, HTML body and text part of one email per
   person (three renders each) from the same templates the send email step uses,
   with tracking links and the open pixel added as the step does.
2. Emails per second rendered *and* handed to an SMTP server (aiosmtpd's sink, in a
   process of its own; ``--in-process`` runs it on a thread of this one, where it
   competes for the GIL) by the ``smtp`` transport, one connection per batch of
   ``--batch`` messages, as a step batch does.  The server's own cost is part of the
   figure, so a real MTA on another machine gives a different number.
   ``--attachment-kb`` adds an attachment to every email.

``--design newsletter`` (or another starter template: welcome, event-invitation,
plain-letter) sends a design of blocks instead of the small hand-written HTML: the
design is made into HTML by MJML once per batch, as the send email step does, and that
bigger HTML is what merge tags, tracking and the text part work on.  It prints MJML's
time per design too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from superflow import merge
from superflow.channels import EmailMessage
from superflow.config import Config
from superflow.plugins.email import SmtpTransport
from superflow.plugins.email import add_tracking
from superflow.plugins.email import html_to_text
from superflow.plugins.email import unsubscribe_token
from superflow.plugins.email.design import load_design
from superflow.plugins.email.rendering import render_design
from superflow.plugins.email.starters import starters
from superflow.processes import free_port
from superflow.processes import wait_for_port

SUBJECT = "{{ person.first_name }}, your offer from {{ company.name | default('us') }}"
HTML = (
    "<html><body><h1>Hello {{ person.first_name }} {{ person.last_name }}</h1>"
    "<p>As a {{ company.category | default('friend') }} of {{ company.name }} you get"
    ' <a href="https://shop.example/offer?c={{ person.id }}">20% off</a> until'
    " {{ person.birth_date | date('%d.%m.%Y') }}.</p>"
    '<p><a href="https://shop.example/">Visit the shop</a></p>'
    "<p>Regards, {{ our_contact.name | default('the team') }}</p></body></html>"
)


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.count += 1
        return "250 OK"


def person(i: int) -> dict:
    return {
        "id": str(i),
        "first_name": f"Person{i}",
        "last_name": "Benchmark",
        "email": f"person{i}@example.com",
        "birth_date": "1980-04-02",
        "company": {"id": "1", "name": "Fjord Analytics AS", "category": "Customer"},
        "fields": {},
    }


SENDER_ADDRESS = "Fjord Analytics AS, Postboks 1, 0101 Oslo"


def body(design: dict | None) -> str:
    """The body template of one batch: the hand-written HTML, or the design made into HTML."""
    return HTML if design is None else render_design(load_design(design), SENDER_ADDRESS)


def render_email(p: dict, names: dict, attachments: list[dict], template: str = HTML) -> EmailMessage:
    scope = merge.scope(p, flow={"id": "1", "name": "Bench"}, names=names)
    html = merge.render(template, scope, html=True)
    text = html_to_text(html)
    pid = f"1.{p['id']}"
    html = add_tracking(html, "https://superflow.example", "secret", pid, "mail")
    return EmailMessage(
        to=p["email"],
        subject=merge.render(SUBJECT, scope),
        html=html,
        text=text,
        from_address="news@superflow.example",
        from_name="Superflow News",
        headers={
            "List-Unsubscribe": f"<https://superflow.example/u/{pid}/{unsubscribe_token('secret', pid)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        attachments=attachments,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--attachment-kb", type=int, default=0)
    parser.add_argument("--in-process", action="store_true", help="run the SMTP server on a thread")
    parser.add_argument("--design", default="", help="a starter template's key, e.g. newsletter")
    args = parser.parse_args()
    design = starters()[args.design]["design"] if args.design else None

    names = merge.known_names()
    persons = [person(i) for i in range(args.emails)]
    attachments = []
    if args.attachment_kb:
        data = bytes(range(256)) * (args.attachment_kb * 4)
        attachments = [
            {"name": "brochure.pdf", "content_type": "application/pdf", "data": data, "size": len(data)}
        ]

    mjml_ms = 0.0
    if design is not None:
        start = time.perf_counter()
        for _ in range(20):
            template = body(design)
        mjml_ms = (time.perf_counter() - start) / 20 * 1000
    start = time.perf_counter()
    for first in range(0, len(persons), args.batch):
        template = body(design)
        for p in persons[first : first + args.batch]:
            render_email(p, names, attachments, template)
    rendering = time.perf_counter() - start

    counter = Counter()
    port = free_port()
    if args.in_process:
        controller = Controller(counter, hostname="127.0.0.1", port=port, data_size_limit=0)
        controller.start()
        server = None
    else:
        command = [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
        server = subprocess.Popen(command)
        wait_for_port(port, seconds=10)
    accepted = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Config(data_dir=Path(tmp), smtp_host="127.0.0.1", smtp_port=port)
            transport = SmtpTransport(config)
            start = time.perf_counter()
            for first in range(0, len(persons), args.batch):
                batch = persons[first : first + args.batch]
                template = body(design)
                messages = [
                    (render_email(p, names, attachments, template), f"1.{p['id']}:mail") for p in batch
                ]
                accepted += sum(isinstance(r, str) for r in transport.send_many(messages))
            sending = time.perf_counter() - start
    finally:
        if server is None:
            controller.stop()
        else:
            server.terminate()
            server.wait(10)

    print(f"emails: {args.emails}, batch: {args.batch}, attachment: {args.attachment_kb} KB")
    if design is not None:
        print(f"design {args.design!r}: MJML {mjml_ms:.1f} ms per batch, {len(body(design)):,} bytes of HTML")
    print(
        f"merge-tag renders: {3 * args.emails / rendering:,.0f}/s ({args.emails / rendering:,.0f} emails/s)"
    )
    where = "a thread of this process" if args.in_process else "its own process"
    print(f"rendered and handed to SMTP ({where}): {accepted / sending:,.0f} emails/s ({accepted} accepted)")


if __name__ == "__main__":
    main()
