"""The web app over real HTTP: the flows list, a flow's page, health."""

from __future__ import annotations

import re

import requests

from superflow import users
from superflow.events import Event
from superflow.testing import SignedInSession
from superflow.testing import csrf_token
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import started


def test_the_admin_needs_a_sign_in(sf_runtime, sf_live_server):
    reply = requests.get(sf_live_server + "/", timeout=5, allow_redirects=False)
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/login")
    users.create(sf_runtime.redis, "ada", "correct horse battery", "viewer")
    browser = requests.Session()
    token = csrf_token(browser.get(sf_live_server + "/login", timeout=5).text)
    wrong = browser.post(
        sf_live_server + "/login",
        data={"username": "ada", "password": "nope", "csrf_token": token},
        timeout=5,
    )
    assert wrong.status_code == 401 and "That user name and password do not match." in wrong.text
    forged = browser.post(
        sf_live_server + "/login", data={"username": "ada", "password": "correct horse battery"}, timeout=5
    )
    assert forged.status_code == 400, "a form without the session's CSRF token is refused"
    ok = browser.post(
        sf_live_server + "/login?next=/flows/1",
        data={"username": "ada", "password": "correct horse battery", "csrf_token": token},
        timeout=5,
        allow_redirects=False,
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/flows/1"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = browser.get(sf_live_server + "/", timeout=5)
    assert home.status_code == 200
    token = csrf_token(home.text)
    assert (
        requests.get(sf_live_server + "/api/v1/flows", cookies=browser.cookies, timeout=5).status_code == 401
    ), "the admin session does not open the API"
    assert browser.post(sf_live_server + "/logout", data={"csrf_token": token}, timeout=5).url.endswith(
        "/login"
    )
    assert browser.get(sf_live_server + "/", timeout=5, allow_redirects=False).status_code == 302


def test_flows_list_and_flow_page_show_status_and_counts(sf_runtime, sf_run_jobs, people, sf_live_server):
    flow = started(
        sf_runtime,
        flow_doc(
            [email_step("hello"), {"id": "w", "type": "wait", "settings": {"amount": 1}}],
            name="Spring campaign",
        ),
    )
    sf_runtime.emit([Event("api.event", pid, {"name": "signed_up"}) for pid in people[:3]])
    sf_run_jobs()

    browser = SignedInSession(sf_runtime, sf_live_server, "viewer")
    home = browser.get(sf_live_server + "/", timeout=5)
    assert home.status_code == 200
    assert "Spring campaign" in home.text and "badge-running" in home.text and "signed_up" in home.text
    assert home.headers["X-Content-Type-Options"] == "nosniff"

    summary = browser.get(f"{sf_live_server}/flows/{flow.id}", timeout=5).text
    assert re.search(r'data-stat="enrolled">3<', summary), "the summary counts three enrolled"
    chart = browser.get(f"{sf_live_server}/flows/{flow.id}/chart", timeout=5).text
    assert "Send email" in chart and re.search(r'data-stat="passed:hello">3<', chart)
    grid = browser.get(f"{sf_live_server}/flows/{flow.id}/participants", timeout=5).text
    assert "ada@example.com" in grid and "EMAIL to ada@example.com" in grid


def test_unknown_flow_is_404(sf_runtime, sf_live_server):
    assert (
        SignedInSession(sf_runtime, sf_live_server, "viewer")
        .get(sf_live_server + "/flows/999", timeout=5)
        .status_code
        == 404
    )


def test_health_reports_redis_and_queue(sf_live_server):
    body = requests.get(sf_live_server + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["redis"] == "ok" and body["queued_jobs"] == 0
    assert body["waiting"] == {"events": 0, "advance": 0}


def test_a_session_expires_after_eight_hours(sf_runtime, sf_live_server):
    browser = SignedInSession(sf_runtime, sf_live_server, "viewer")
    expires = next(c for c in browser.cookies if c.name == "session").expires
    import time

    assert 7.9 * 3600 < expires - time.time() <= 8 * 3600


def test_the_flow_in_words_names_crm_things_not_ids(sf_runtime, crm, sf_live_server):
    selection = crm.create_selection("Newsletter subscribers")
    flow = started(
        sf_runtime,
        flow_doc(
            [email_step("hello")],
            trigger={"type": "added_to_selection", "settings": {"selection": selection["id"]}},
            name="Welcome",
        ),
    )
    browser = SignedInSession(sf_runtime, sf_live_server, "viewer")
    summary = browser.get(f"{sf_live_server}/flows/{flow.id}", timeout=5).text
    assert "When a person is added to selection &#39;Newsletter subscribers&#39;" in summary
    assert "&#39;Newsletter subscribers&#39;" in browser.get(sf_live_server + "/", timeout=5).text
