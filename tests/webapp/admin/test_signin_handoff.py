"""``POST /login/handoff``: how a CRM's frame signs in with the one-time code its pop-up's
provider sign-in handed it (the code is made by the provider callback; the whole round in
Chromium is tests/browser/test_frame_signin.py).  A code signs in one browser once, within
a minute, for an active user, and only in a post that carries the page's CSRF token."""

from __future__ import annotations

import pytest

from superflow import keys
from superflow import signin_handoff
from superflow import users
from superflow.testing import PASSWORD
from superflow.testing import csrf_token
from superflow.testing import until

EXPIRED = "This sign-in has expired: sign in again."


@pytest.fixture
def marit(sf_runtime):
    users.create(sf_runtime.redis, "marit", PASSWORD, "flow_admin")
    return "marit"


def hand_off(client, code, **extra):
    token = csrf_token(client.get("/login").text)
    return client.post("/login/handoff", data={"code": code, "csrf_token": token, **extra})


def signed_in(client) -> bool:
    page = client.get("/", follow_redirects=False)
    return page.status_code == 200 and "Sign out" in page.text


def test_a_code_signs_the_frame_in_once_and_goes_to_the_page_it_asked_for(sf_runtime, sf_app, marit):
    code = signin_handoff.give(sf_runtime.redis, marit, "/panels/person?id=7")
    frame = sf_app.test_client()
    assert not signed_in(frame)

    reply = hand_off(frame, code)

    assert reply.status_code == 302
    assert reply.headers["Location"] == "/panels/person?id=7"
    assert signed_in(frame)
    again = sf_app.test_client()
    reused = hand_off(again, code)
    assert reused.status_code == 400
    assert EXPIRED in reused.text
    assert not signed_in(again)


@pytest.mark.parametrize("code", ["x" * 43, "", "short", "bad chars " * 5, "y" * 5000])
def test_an_unknown_or_malformed_code_is_refused_in_words(sf_app, code):
    frame = sf_app.test_client()

    reply = hand_off(frame, code)

    assert reply.status_code == 400
    assert EXPIRED in reply.text
    assert not signed_in(frame)


def test_an_expired_code_is_refused(sf_runtime, sf_app, marit):
    code = signin_handoff.give(sf_runtime.redis, marit, "/")
    assert 0 < sf_runtime.redis.ttl(keys.signin_handoff(code)) <= signin_handoff.HANDOFF_SECONDS
    sf_runtime.redis.pexpire(keys.signin_handoff(code), 1)
    assert until(lambda: not sf_runtime.redis.exists(keys.signin_handoff(code)), 5)
    frame = sf_app.test_client()

    reply = hand_off(frame, code)

    assert reply.status_code == 400
    assert EXPIRED in reply.text
    assert not signed_in(frame)


def test_a_user_disabled_since_the_sign_in_stays_out(sf_runtime, sf_app, marit):
    users.create(sf_runtime.redis, "boss", PASSWORD, "flow_admin")
    code = signin_handoff.give(sf_runtime.redis, marit, "/")
    users.disable(sf_runtime.redis, marit)
    frame = sf_app.test_client()

    reply = hand_off(frame, code)

    assert reply.status_code == 403
    assert "Your superflow account is disabled" in reply.text
    assert not signed_in(frame)


def test_without_the_pages_csrf_token_the_code_is_not_taken(sf_runtime, sf_app, marit):
    code = signin_handoff.give(sf_runtime.redis, marit, "/")
    frame = sf_app.test_client()
    frame.get("/login")

    reply = frame.post("/login/handoff", data={"code": code})

    assert reply.status_code == 400
    assert "did not come from this site" in reply.text
    assert not signed_in(frame)
    assert hand_off(frame, code).status_code == 302, "the refused post did not use the code up"


def test_the_refused_page_signs_in_with_a_password_and_goes_on_to_the_page_asked_for(sf_app, marit):
    frame = sf_app.test_client()
    refused = hand_off(frame, "z" * 43, next="/panels/person?id=7")

    assert 'action="/login?next=/panels/person?id%3D7"' in refused.text
    reply = frame.post(
        "/login?next=/panels/person?id%3D7",
        data={"username": marit, "password": PASSWORD, "csrf_token": csrf_token(refused.text)},
    )
    assert reply.status_code == 302 and reply.headers["Location"] == "/panels/person?id=7"
    assert signed_in(frame)
