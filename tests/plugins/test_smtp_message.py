"""The bytes the SMTP transport writes: what a mail client reads back out of them."""

from __future__ import annotations

import email
from email import policy
from email.header import Header

import pytest

from superflow.channels import EmailMessage
from superflow.plugins.email import smtp_message

COMPAT32 = policy.compat32.clone(linesep="\r\n")
HEADERS = [
    ("To", "asa@example.com"),
    ("Subject", "x" * 69),  # 9 + 69 = 78: the longest one-line header
    ("Subject", "x" * 70),
    ("Subject", "Your order  is\tready "),
    ("Subject", " leading space"),
    ("List-Unsubscribe", "<https://example.com/u/abcdefabcdef0123456789>, <mailto:u@example.com?subject=u>"),
    ("X-Note", "a " * 60),
    ("Subject", Header("Välkommen, Åsa", "utf-8")),
    ("X-Broken", "one\r\n two"),
]


@pytest.mark.parametrize("name, value", HEADERS)
def test_headers_are_written_as_compat32_writes_them(name, value):
    assert smtp_message.WIRE.fold_binary(name, value) == COMPAT32.fold_binary(name, value)


def message(**changes) -> EmailMessage:
    fields = {
        "to": "asa@example.com",
        "subject": "Welcome, Åsa — your 3 items",
        "html": "<p>Hello Åsa</p>" + "<p>lorem ipsum dolor sit amet</p>" * 40,
        "text": "Hello Åsa\n" + "lorem ipsum dolor sit amet\n" * 40,
        "from_address": "news@example.com",
        "from_name": "Nyheter från Åre",
        "headers": {"List-Unsubscribe": "<https://example.com/u/abc>"},
    }
    return EmailMessage(**{**fields, **changes})


def parts(data: bytes) -> dict[str, str]:
    parsed = email.message_from_bytes(data, policy=policy.default)
    return {
        "subject": str(parsed["Subject"]),
        "from": str(parsed["From"]),
        **{part.get_content_type(): part.get_content() for part in parsed.walk() if not part.is_multipart()},
    }


@pytest.mark.parametrize("ascii_only", [False, True])
def test_a_mail_client_reads_back_what_was_written(ascii_only):
    m = message()
    if ascii_only:
        plain = {"html": m.html.replace("Å", "A"), "text": m.text.replace("Å", "A")}
        m = message(subject="Welcome", from_name="News", **plain)
    read = parts(smtp_message.wire_bytes(m, "<1@example.com>"))
    assert read["subject"] == m.subject
    assert read["from"] == f"{m.from_name} <news@example.com>"
    assert read["text/plain"].replace("\r\n", "\n") == m.text
    assert read["text/html"].replace("\r\n", "\n") == m.html


def test_a_boundary_found_in_the_text_is_not_used(monkeypatch):
    tokens = iter(["0" * 32, "1" * 32, "2" * 32])
    monkeypatch.setattr(smtp_message.secrets, "token_hex", lambda n: next(tokens))
    text = "A line that looks like a boundary:\n--=_" + "0" * 32 + "\nand goes on.\n"
    m = message(text=text, html="<p>plain</p>", subject="Hi", from_name="News")
    data = smtp_message.wire_bytes(m, "<1@example.com>")
    assert b'boundary="=_' + b"1" * 32 + b'"' in data
    assert parts(data)["text/plain"].replace("\r\n", "\n") == text
