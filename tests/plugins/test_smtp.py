"""Email through a real SMTP server (aiosmtpd): what arrives, refusals, retries,
TLS, and never twice after a crash."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from aiosmtpd.smtp import LoginPassword

from superflow import keys
from superflow.processes import free_port
from superflow.store import MessageLedger
from superflow.testing import Inbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started


def smtp_runtime(sf_plugin, port, **changes):
    return sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port, **changes)


def person(rt, first, address, **fields):
    p = rt.crm.create_person(first_name=first, email=address, **fields)
    rt.crm.set_consent(p["id"], "emarketing", True)
    return p["id"]


def test_emails_go_out_through_smtp_with_one_click_unsubscribe(sf_plugin, sf_run_jobs, sf_smtp_server):
    inbox, port = sf_smtp_server
    rt = smtp_runtime(sf_plugin, port)
    ase = rt.crm.create_person(first_name="Åse", email="ase@example.com")
    started(rt, flow_doc([email_step("hello", subject="Hei {{person.first_name}}")]))
    signed_up(rt, ase["id"])
    sf_run_jobs(rt)

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ase@example.com"
    assert message["Subject"] == "Hei Åse"
    assert message["From"] == "Superflow News <news@superflow.test>"
    assert message["List-Unsubscribe"].strip().startswith("<http://superflow.test/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Hi Åse" in html and "Hi Åse, welcome from" in text


def test_what_arrives_headers_both_parts_attachments_and_merge_tags(sf_plugin, sf_run_jobs, sf_smtp_server):
    inbox, port = sf_smtp_server
    rt = smtp_runtime(sf_plugin, port)
    folder = rt.config.data_dir / "attachments"
    (folder / "2026").mkdir(parents=True)
    pdf = b"%PDF-1.4 price list \x00\xff" * 100
    (folder / "2026" / "prices.pdf").write_bytes(pdf)
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    company = rt.crm.create_company(name="Fjord & Co")
    ada = person(rt, "Ada", "ada@example.com", company_id=company["id"])
    step = email_step(
        "offer",
        subject="Your offer, {{person.first_name}}",
        html=(
            "<p>Dear {{person.first_name}} at {{company.name}}, see"
            ' <a href="https://shop.example/offer?a=1&amp;b=2">the offer</a>.</p>'
        ),
        text="Dear {{person.first_name}} at {{company.name}}: https://shop.example/offer",
        reply_to="sales@superflow.test",
        attachments=[
            {"name": "Price list 2026.pdf", "path": "2026/prices.pdf"},
            {"name": "logo.png", "path": "logo.png"},
        ],
    )
    flow = started(rt, flow_doc([step]))
    signed_up(rt, ada)
    sf_run_jobs(rt)

    [message] = inbox.messages
    assert message["Subject"] == "Your offer, Ada"
    assert message["Reply-To"] == "sales@superflow.test"
    assert message["Message-ID"] and message["Date"]
    assert message["X-Superflow-Participant"] == f"{flow.id}.1"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Dear Ada at Fjord &amp; Co" in html
    assert text.strip() == "Dear Ada at Fjord & Co: https://shop.example/offer"
    # tracking is on by default: the link goes through superflow and there is a pixel
    assert "http://superflow.test/t/c/" in html and "shop.example" not in html
    assert "http://superflow.test/t/o/" in html
    attached = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attached) == {"Price list 2026.pdf", "logo.png"}
    assert attached["Price list 2026.pdf"].get_content_type() == "application/pdf"
    assert attached["Price list 2026.pdf"].get_content() == pdf
    assert attached["logo.png"].get_content_type() == "image/png"
    history = [h["note"] for h in rt.store.history(f"{flow.id}.1")]
    assert "sent to ada@example.com with Price list 2026.pdf, logo.png" in history


def one_of_three_refused(sf_plugin, sf_run_jobs, sf_smtp_server, name, reply):
    """Ada, ``name`` and Cy sent an email through SMTP, whose server gives ``reply`` to
    ``name``'s address (``<name in lower case>@example.com``) only; the jobs worked once."""
    inbox, port = sf_smtp_server
    rt = smtp_runtime(sf_plugin, port)
    address = f"{name.lower()}@example.com"
    inbox.refuse[address] = reply
    ids = [
        person(rt, "Ada", "ada@example.com"),
        person(rt, name, address),
        person(rt, "Cy", "cy@example.com"),
    ]
    flow = started(rt, flow_doc([email_step("hello")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)
    return rt, inbox, ids, flow


def test_a_refused_address_is_marked_blocked_and_the_rest_of_the_batch_goes_out(
    sf_plugin, sf_run_jobs, sf_smtp_server
):
    rt, inbox, ids, flow = one_of_three_refused(
        sf_plugin, sf_run_jobs, sf_smtp_server, "Gone", "550 5.1.1 <gone@example.com>: mailbox unavailable"
    )

    assert sorted(inbox.to()) == ["ada@example.com", "cy@example.com"]
    assert rt.crm.get_person(ids[1])["email_blocked"] is True
    assert rt.crm.get_person(ids[0])["email_blocked"] is False
    gone = rt.store.participant(rt.redis.hget(keys.person(ids[1]), flow.id))
    assert gone.status == "exited"
    assert gone.reason == "email refused: 550 5.1.1 <gone@example.com>: mailbox unavailable"
    stats = rt.store.stats(flow.id)
    assert stats["completed"] == 2 and stats["email.bounced"] == 1 and stats["email.sent"] == 2

    # The next flow does not even try the blocked address.
    second = started(rt, flow_doc([email_step("again")], name="Second"))
    signed_up(rt, ids[1])
    sf_run_jobs(rt)
    again = rt.store.participant(rt.redis.hget(keys.person(ids[1]), second.id))
    assert again.reason == "email address blocked or bounced"


def test_a_temporary_refusal_is_retried_later_and_each_email_is_sent_once(
    sf_plugin, sf_run_jobs, sf_smtp_server
):
    rt, inbox, ids, flow = one_of_three_refused(
        sf_plugin, sf_run_jobs, sf_smtp_server, "Busy", "451 4.3.0 greylisted, try again later"
    )

    # Only Busy waits for a retry: the refusal of one recipient holds up nobody else.
    assert sorted(inbox.to()) == ["ada@example.com", "cy@example.com"]
    busy = rt.store.participant(rt.redis.hget(keys.person(ids[1]), flow.id))
    assert busy.status == "active" and busy.wait["k"] == "retry"
    assert "451 4.3.0 greylisted" in busy.history[-1]["note"]
    assert rt.crm.get_person(ids[1])["email_blocked"] is False

    del inbox.refuse["busy@example.com"]
    rt.clock.advance(61)
    sf_run_jobs(rt)
    assert sorted(inbox.to()) == ["ada@example.com", "busy@example.com", "cy@example.com"]
    assert rt.store.stats(flow.id)["completed"] == 3


def claimed_by_a_killed_attempt(sf_plugin, sf_smtp_server):
    """Bo about to enter a one-email flow whose email a killed worker had already
    claimed in the message ledger: ``(inbox, runtime, Bo's id, flow, ledger key)``."""
    inbox, port = sf_smtp_server
    rt = smtp_runtime(sf_plugin, port)
    bo = rt.crm.create_person(first_name="Bo", email="bo@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    key = f"{flow.id}.1:hello"
    assert MessageLedger(rt.redis).claim(key) == ("new", "")
    return inbox, rt, bo["id"], flow, key


def test_an_email_recorded_as_sent_by_a_killed_attempt_is_not_sent_again_but_counted(
    sf_plugin, sf_run_jobs, sf_smtp_server
):
    inbox, rt, bo, flow, key = claimed_by_a_killed_attempt(sf_plugin, sf_smtp_server)
    # ... and recorded it as sent, then died before storing the step.
    MessageLedger(rt.redis).sent(key, "<earlier@superflow.test>")
    signed_up(rt, bo)
    sf_run_jobs(rt)
    assert inbox.messages == []
    p = rt.store.participant(f"{flow.id}.1")
    assert p.status == "completed" and p.last_sending["id"] == "<earlier@superflow.test>"
    assert any("not sent twice" in h["note"] for h in p.history)
    assert rt.store.stats(flow.id)["email.sent"] == 1


def test_an_email_claimed_by_a_killed_attempt_is_in_doubt_sent_again_and_named(
    sf_plugin, sf_run_jobs, sf_smtp_server
):
    # The worker died before it could record what happened.
    inbox, rt, bo, flow, _ = claimed_by_a_killed_attempt(sf_plugin, sf_smtp_server)
    signed_up(rt, bo)
    sf_run_jobs(rt)
    assert inbox.to() == ["bo@example.com"]
    notes = [h["note"] for h in rt.store.history(f"{flow.id}.1")]
    assert any("in doubt" in n and "may arrive twice" in n for n in notes)


class DropsAfterData(Inbox):
    """Keeps the message, then drops the connection instead of answering 250."""

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        server.transport.close()
        return "250 OK"


def test_a_connection_lost_after_the_data_is_taken_as_sent_not_sent_twice(sf_plugin, sf_run_jobs):
    port = free_port()
    inbox = DropsAfterData()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rt = smtp_runtime(sf_plugin, port)
        ids = [person(rt, "Ada", "ada@example.com"), person(rt, "Bo", "bo@example.com")]
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, *ids)
        sf_run_jobs(rt)
        rt.clock.advance(3600)
        sf_run_jobs(rt)
    finally:
        controller.stop()
    assert sorted(inbox.to()) == ["ada@example.com", "bo@example.com"]
    stats = rt.store.stats(flow.id)
    assert stats["completed"] == 2 and stats["email.sent"] == 2
    notes = [h["note"] for h in rt.store.history(f"{flow.id}.1")]
    assert any("in doubt" in n and "taken as sent" in n for n in notes)
    from superflow.webapp import create_app

    scraped = create_app(runtime=rt).test_client().get("/metrics").get_data(as_text=True)
    assert 'superflow_messages_in_doubt_total{channel="email",decision="taken_as_sent"} 2.0' in scraped


def test_an_smtp_server_that_is_down_holds_the_emails_until_a_probe_finds_it_back(sf_plugin, sf_run_jobs):
    import time

    from superflow import outages

    port = free_port()
    rt = smtp_runtime(sf_plugin, port)
    ids = [person(rt, name, f"{name.lower()}@example.com") for name in ("Ada", "Bo", "Cy")]
    flow = started(rt, flow_doc([email_step("hello")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)
    waiting = rt.store.participants(rt.store.flow_participant_ids(flow.id)).values()
    assert [p.status for p in waiting] == ["active"] * 3
    assert all(p.wait["k"] == "retry" and p.wait["c"] == "email" for p in waiting)
    assert "waiting for email to work again: SMTP 127.0.0.1:" in next(iter(waiting)).history[-1]["note"]
    assert "email" in outages.outages(rt.redis)

    # Probes while the server stays down cost the participants nothing: no attempt is
    # used up, however long the outage lasts (clock moved past every retry limit).
    for _ in range(2):
        time.sleep(outages.FIRST_PAUSE * 2 + 0.1)
        rt.clock.advance(3600)
        sf_run_jobs(rt)
    waiting = rt.store.participants(rt.store.flow_participant_ids(flow.id)).values()
    assert all(p.status == "active" and p.wait["n"] == 0 for p in waiting)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time.sleep(outages.MAX_PAUSE + 0.1)
        sf_run_jobs(rt)  # the probe finds the server back; nobody waits for their own retry time
    finally:
        controller.stop()
    assert sorted(inbox.to()) == ["ada@example.com", "bo@example.com", "cy@example.com"]
    assert rt.store.stats(flow.id)["completed"] == 3
    assert rt.store.stats(flow.id).get("email.sent") == 3
    assert outages.outages(rt.redis) == {}


def test_a_probe_that_finds_the_server_back_while_another_worker_ticks_still_lets_everyone_go_on(
    sf_plugin, sf_run_jobs
):
    import time

    from superflow import heartbeat
    from superflow import outages
    from superflow import scheduler

    port = free_port()
    rt = smtp_runtime(sf_plugin, port)
    ids = [person(rt, name, f"{name.lower()}@example.com") for name in ("Ada", "Bo")]
    flow = started(rt, flow_doc([email_step("hello")]))
    signed_up(rt, *ids)
    sf_run_jobs(rt)
    assert "email" in outages.outages(rt.redis)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time.sleep(outages.MAX_PAUSE + 0.1)  # a probe is due, however many ran before
        # Another worker, alive and beating, is in the middle of its tick: this
        # worker's probe finds the server back but cannot take the tick itself.
        other = heartbeat.Heartbeat(rt.redis, 30)
        other.beat()
        rt.redis.set(scheduler.TICK_LOCK, other.token, px=30_000)
        assert rt.engine.tick() == {}
        assert outages.outages(rt.redis) == {}
        rt.redis.delete(scheduler.TICK_LOCK)
        sf_run_jobs(rt)
    finally:
        controller.stop()
    assert sorted(inbox.to()) == ["ada@example.com", "bo@example.com"]
    assert rt.store.stats(flow.id)["completed"] == 2


# -- TLS -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the cryptography package."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"mailer"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_login(sf_plugin, sf_run_jobs, certificate, mode):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    inbox = Inbox()
    sessions = []

    class Recording(Inbox):
        async def handle_DATA(self, server, session, envelope):
            encrypted = server.transport.get_extra_info("ssl_object") is not None
            sessions.append((encrypted, session.authenticated))
            return await inbox.handle_DATA(server, session, envelope)

    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; implicit TLS is checked below
    options = {"authenticator": authenticator, "auth_require_tls": mode == "starttls"}
    if mode == "ssl":
        controller = Controller(Recording(), hostname="127.0.0.1", port=port, ssl_context=context, **options)
    else:
        controller = Controller(
            Recording(),
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            **options,
        )
    controller.start()
    try:
        rt = smtp_runtime(
            sf_plugin,
            port,
            smtp_ssl=mode == "ssl",
            smtp_starttls=mode == "starttls",
            smtp_cafile=str(cert),
            smtp_user="mailer",
            smtp_password="s3cret",
        )
        dag = person(rt, "Dag", "dag@example.com")
        started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, dag)
        sf_run_jobs(rt)
    finally:
        controller.stop()
    assert inbox.to() == ["dag@example.com"]
    assert sessions == [(True, True)]


def test_an_untrusted_certificate_is_not_accepted(sf_plugin, sf_run_jobs, certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        rt = smtp_runtime(sf_plugin, port, smtp_starttls=True)
        eva = person(rt, "Eva", "eva@example.com")
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, eva)
        sf_run_jobs(rt)
    finally:
        controller.stop()
    assert inbox.messages == []
    p = rt.store.participant(f"{flow.id}.1")
    assert p.wait["k"] == "retry" and "CERTIFICATE_VERIFY_FAILED" in p.history[-1]["note"]


@pytest.mark.parametrize("smtputf8", [True, False])
def test_an_international_address_needs_a_server_with_smtputf8(sf_plugin, sf_run_jobs, smtputf8):
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        rt = smtp_runtime(sf_plugin, port)
        ids = [person(rt, "Bjørn", "bjørn@example.com"), person(rt, "Ada", "ada@example.com")]
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, *ids)
        sf_run_jobs(rt)
    finally:
        controller.stop()
    bjorn = rt.store.participant(rt.redis.hget(keys.person(ids[0]), flow.id))
    if smtputf8:
        assert sorted(inbox.to()) == ["ada@example.com", "bjørn@example.com"]
        assert bjorn.status == "completed"
    else:
        assert inbox.to() == ["ada@example.com"]
        assert bjorn.status == "exited" and "SMTPUTF8" in bjorn.reason
        assert rt.crm.get_person(ids[0])["email_blocked"] is False


class CountsConnections(Inbox):
    """Notes which connection (the client's address and port) each email came over."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


def test_with_several_smtp_connections_a_batch_goes_out_over_all_of_them_each_email_once(
    sf_plugin, sf_run_jobs
):
    port = free_port()
    inbox = CountsConnections()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    addresses = [f"p{i}@example.com" for i in range(9)]
    try:
        rt = smtp_runtime(sf_plugin, port, smtp_connections=3)
        ids = [person(rt, f"P{i}", address) for i, address in enumerate(addresses)]
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, *ids)
        sf_run_jobs(rt)
    finally:
        controller.stop()
    assert sorted(inbox.to()) == sorted(addresses), "each email once"
    assert len(set(inbox.peers)) == 3, "the batch went out over three connections"
    stats = rt.store.stats(flow.id)
    assert stats["completed"] == 9 and stats["email.sent"] == 9
    for pid in ids:
        assert participant_of(rt, flow, pid).last_sending is not None


def test_a_participant_woken_by_one_probe_into_a_new_outage_waits_for_that_one_too(sf_plugin, sf_run_jobs):
    import time

    from superflow import outages

    port = free_port()
    rt = smtp_runtime(sf_plugin, port)
    ada = person(rt, "Ada", "ada@example.com")
    flow = started(rt, flow_doc([email_step("hello")]))
    signed_up(rt, ada)
    sf_run_jobs(rt)
    assert participant_of(rt, flow, ada).wait["c"] == "email"
    # A probe finds the server back and wakes Ada; before her round runs, another
    # participant's send finds the server down again.
    outages.ended(rt.redis, "email", rt.engine.scheduler.wake_now)
    with rt.redis.pipeline() as pipe:
        outages.record(pipe, "email", ["someone-else"], "SMTP 127.0.0.1: connection refused")
        pipe.execute()
    sf_run_jobs(rt)  # Ada's round finds the channel down: she goes on waiting for it
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time.sleep(outages.MAX_PAUSE + 0.1)
        sf_run_jobs(rt)  # the next probe finds the server back
    finally:
        controller.stop()
    assert inbox.to() == ["ada@example.com"], "Ada's email went out when the server was back"
    assert participant_of(rt, flow, ada).status == "completed"
