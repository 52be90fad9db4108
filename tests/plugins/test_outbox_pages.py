"""The Outbox screen the outbox plugin adds to the admin: list, filters, paging,
one message, sign-in, and its link in the admin's navigation."""

from __future__ import annotations

import html
import json
import re

import pytest

from superflow.plugins.outbox import Outbox


@pytest.fixture
def browser(sf_signed_in):
    return sf_signed_in("viewer")


def email(n, to="ada@example.com", **extra):
    return {
        "channel": "email",
        "key": f"k{n}",
        "recipient": to,
        "sender": "Superflow News <news@superflow.test>",
        "subject": f"Email number {n}",
        "html": f"<p>Body {n}</p>",
        "text": f"Body {n}",
        "headers": json.dumps({"X-Superflow-Step": "hello"}),
        **extra,
    }


def sms(n, to="+4790000000", text=None):
    return {
        "channel": "sms",
        "key": f"s{n}",
        "recipient": to,
        "sender": "Superflow",
        "subject": "",
        "html": "",
        "text": text or f"SMS number {n} with a few more words than the list shows in one row of it",
        "headers": "{}",
    }


def ids_in(page):
    return [int(i) for i in re.findall(r'href="/outbox/(\d+)"', page)][::2]


def test_the_outbox_needs_a_sign_in(sf_client):
    client = sf_client
    for path in ("/outbox", "/outbox/1"):
        reply = client.get(path)
        assert reply.status_code == 302 and reply.headers["Location"].startswith("/login")


def test_an_empty_outbox_says_what_to_do(browser):
    page = browser.get("/outbox")
    assert page.status_code == 200
    assert "Nothing sent yet. Start a flow or use Send test on a flow's Content tab." in page.text
    assert 'class="empty"' in page.text and 'class="page-head"' in page.text


def test_the_list_is_newest_first_in_pages_of_fifty(sf_runtime, browser):
    box = Outbox(sf_runtime.config)
    box.put([email(n) for n in range(1, 61)])
    box.put([sms(1)])

    first = browser.get("/outbox").text
    assert "61 messages." in first
    assert len(ids_in(first)) == 50
    assert ids_in(first)[0] == 61 and ids_in(first) == sorted(ids_in(first), reverse=True)
    assert "SMS number 1 with a few more words than the list shows …" in first
    assert "Email number 60" in first and "Email number 11" not in first
    assert 'class="grid"' in first and 'class="badge"' in first
    assert "Page 1 of 2" in first and 'href="/outbox?page=2"' in first and "Newer" not in first

    second = browser.get("/outbox?page=2").text
    assert ids_in(second) == list(range(11, 0, -1))
    assert 'href="/outbox?page=1"' in second and "Older" not in second
    assert ids_in(browser.get("/outbox?page=99").text) == ids_in(second), "past the end: the last page"
    assert ids_in(browser.get("/outbox?page=x").text) == ids_in(first)


def test_filter_by_channel_and_recipient(sf_runtime, browser):
    box = Outbox(sf_runtime.config)
    box.put([email(1, "ada@example.com"), email(2, "bjorn@example.com"), sms(3, "+4790000003")])
    box.put([sms(4, "+4790000004"), email(5, "ADA@work.example")])

    assert ids_in(browser.get("/outbox?channel=sms").text) == [4, 3]
    assert ids_in(browser.get("/outbox?channel=email").text) == [5, 2, 1]
    assert ids_in(browser.get("/outbox?q=ada").text) == [5, 1], "any part of the address, any case"
    assert ids_in(browser.get("/outbox?channel=sms&q=0004").text) == [4]
    assert ids_in(browser.get("/outbox?channel=fax").text) == [5, 4, 3, 2, 1], "an unknown channel: all"
    none = browser.get("/outbox?channel=sms&q=%25").text
    assert ids_in(none) == [] and "No messages match" in none and "show all messages" in none
    paged = Outbox(sf_runtime.config)
    paged.put([sms(n, "+4791111111") for n in range(10, 70)])
    page = browser.get("/outbox?channel=sms&q=911").text
    assert "Page 1 of 2" in page and 'href="/outbox?channel=sms&amp;q=911&amp;page=2"' in page


def test_an_email_is_shown_with_its_html_in_a_sandbox(sf_runtime, browser):
    body = '<p onclick="x()">Hi <b>Ada</b> &amp; co</p><script>alert("boo")</script><img src="https://t.example/o.gif">'
    attachments = json.dumps([{"name": "prices.pdf", "content_type": "application/pdf", "size": 12345}])
    [ident] = Outbox(sf_runtime.config).put(
        [email(1, html=body, text="Hi Ada & co", attachments=attachments, subject="Offer <for> you")]
    )
    page = browser.get(f"/outbox/{ident.removeprefix('outbox-')}")
    assert page.status_code == 200
    text = page.text
    frame = re.search(r"<iframe ([^>]*)>", text).group(1)
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame, "no scripts; links open a tab"
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == '<base target="_blank">' + body, "the HTML goes in whole, escaped"
    assert "<script>" not in text
    assert "Offer &lt;for&gt; you" in text
    assert "<pre>Hi Ada &amp; co</pre>" in text
    assert "prices.pdf" in text and "application/pdf" in text and "12,345 bytes" in text
    assert "X-Superflow-Step" in text and "ada@example.com" in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_an_sms_is_shown_with_its_segments(sf_runtime, browser):
    text = "Hei Ada! " + "x" * 200
    [ident] = Outbox(sf_runtime.config).put([sms(1, text=text)])
    page = browser.get(f"/outbox/{ident.removeprefix('outbox-')}").text
    assert "SMS to +4790000000" in page
    assert f"<pre>{text}</pre>" in page
    assert "2 SMS parts (GSM-7), 209 characters" in page
    assert "<iframe" not in page


def test_an_unknown_message_is_not_found(browser):
    assert browser.get("/outbox/999").status_code == 404
    assert browser.get("/outbox/abc").status_code == 404


def test_the_outbox_links_itself_into_the_admin(sf_runtime):
    links = []
    sf_runtime.registry.hook.superflow_register_admin_links(
        register=lambda label, url: links.append((label, url))
    )
    assert ("Outbox", "/outbox") in links
