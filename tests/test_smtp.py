"""Email through a real SMTP server (aiosmtpd), and never twice after a crash."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from conftest import email_step, flow_doc, started
from superflow.events import Event


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_emails_go_out_through_smtp_with_one_click_unsubscribe(sf_plugin, run_jobs, smtp_server):
    inbox, port = smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    person = rt.crm.create_person(first_name="Åse", email="ase@example.com")
    flow = started(rt, flow_doc([email_step("hello", subject="Hei {{person.first_name}}")]))
    rt.emit([Event("api.event", person["id"], {"name": "signed_up"})])
    run_jobs(rt)

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ase@example.com"
    assert message["Subject"] == "Hei Åse"
    assert message["From"] == "Superflow News <news@superflow.test>"
    assert message["List-Unsubscribe"].strip().startswith(f"<http://superflow.test/u/{flow.id}.1/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Hi Åse" in html and "Hi Åse, welcome from" in text


def test_a_retried_smtp_step_does_not_send_again(sf_plugin, run_jobs, smtp_server):
    inbox, port = smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    person = rt.crm.create_person(first_name="Bo", email="bo@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    # A worker claimed this send and died before recording it: the ledger entry is left.
    assert rt.store.claim(f"{flow.id}.1:hello")
    rt.emit([Event("api.event", person["id"], {"name": "signed_up"})])
    run_jobs(rt)
    assert inbox.messages == []
    history = rt.store.history(f"{flow.id}.1")
    assert "already sent in an earlier attempt; not sent twice" in [h["note"] for h in history]


def test_an_smtp_server_that_is_down_means_a_retry_not_a_loss(sf_plugin, run_jobs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    person = rt.crm.create_person(first_name="Cy", email="cy@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    rt.emit([Event("api.event", person["id"], {"name": "signed_up"})])
    run_jobs(rt)
    p = rt.store.participant(f"{flow.id}.1")
    assert p.status == "active" and p.wait["k"] == "retry"
    assert "will retry: email not sent: SMTP 127.0.0.1:" in p.history[-1]["note"]

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rt.clock.advance(301)
        run_jobs(rt)
    finally:
        controller.stop()
    assert [m["To"] for m in inbox.messages] == ["cy@example.com"]
    assert rt.store.participant(f"{flow.id}.1").status == "completed"
