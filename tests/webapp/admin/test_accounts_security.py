"""Sign-in, sessions and accounts as an attacker would probe them: where ``next=``
may send the browser, throttled guessing, sessions that end, disabled and deleted
users, and malformed CSRF tokens — through the real app on a real Redis."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from superflow import users
from superflow.testing import csrf_token
from superflow.webapp import create_app

PASSWORD = "correct horse battery"
TOO_MANY = re.compile(r"Too many failed sign-ins; try again in \d+ minutes?")
NO_MATCH = "That user name and password do not match."


@pytest.fixture
def app(sf_runtime):
    return create_app(runtime=sf_runtime)


@pytest.fixture
def accounts(sf_runtime):
    """An administrator ``boss``, a second administrator ``ada`` and a viewer ``vera``."""
    users.create(sf_runtime.redis, "boss", PASSWORD, "flow_admin")
    users.create(sf_runtime.redis, "ada", PASSWORD, "flow_admin")
    users.create(sf_runtime.redis, "vera", PASSWORD, "viewer")


def token_of(client, path="/login"):
    return csrf_token(client.get(path).text)


def try_sign_in(client, username, password, ip="192.0.2.10", url="/login"):
    token = token_of(client)
    return client.post(
        url,
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def browser(app, username, ip="192.0.2.10"):
    """A new browser (test client) signed in as ``username``."""
    client = app.test_client()
    reply = try_sign_in(client, username, PASSWORD, ip=ip)
    assert reply.status_code == 302, reply.text
    return client


def signed_out(client):
    reply = client.get("/", follow_redirects=False)
    return reply.status_code == 302 and reply.headers["Location"].startswith("/login")


# -- where the browser goes after signing in -------------------------------------
HOSTILE_NEXT = [
    "//evil.example/",
    "/\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "/%09/evil.example/",
    "/%5Cevil.example/",
    "/%5cevil.example/",
    "/%2F/evil.example/",
    "/%2f%2fevil.example/",
    "///evil.example/",
    "https:evil.example",
    "https://evil.example/",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\u3002evil.example",
    "/ｅvil.example",
    "/flows/\u202e1",
]
GOOD_NEXT = ["/flows/1", "/flows/1/participants?status=waiting&page=2", "/users", "/?view=list"]


def test_next_only_leads_to_a_page_of_this_site(app, accounts):
    """Hostile ``next=`` values land on the flows list; a path of the site (with its
    query) is kept as it was."""
    landed = {}
    for target in HOSTILE_NEXT + GOOD_NEXT:
        client = app.test_client()
        reply = try_sign_in(client, "boss", PASSWORD, url="/login?next=" + quote(target, safe=""))
        assert reply.status_code == 302, target
        landed[target] = reply.headers["Location"]
    # the form the issue reported, sent as a browser sends it (a tab, percent-encoded once)
    client = app.test_client()
    raw = try_sign_in(client, "boss", PASSWORD, url="/login?next=/%09/evil.example/")
    landed["raw /%09/evil.example/"] = raw.headers["Location"]
    wrong = {t: where for t, where in landed.items() if t not in GOOD_NEXT and where != "/"}
    assert not wrong, f"these next= values led off the flows list: {wrong}"
    assert {t: landed[t] for t in GOOD_NEXT} == {t: t for t in GOOD_NEXT}


# -- throttled guessing ----------------------------------------------------------
def test_guessing_one_users_password_is_throttled_even_with_the_right_one(app, accounts):
    client = app.test_client()
    for n in range(4):
        assert try_sign_in(client, "ada", f"typo {n}").status_code == 401
    assert try_sign_in(client, "ada", PASSWORD).status_code == 302, "signing in forgives earlier typos"
    client.post("/logout", data={"csrf_token": token_of(client, "/")})
    for n in range(5):
        wrong = try_sign_in(client, "ada", f"guess number {n}", ip=f"198.51.100.{n}")
        assert wrong.status_code == 401 and NO_MATCH in wrong.text
    right = try_sign_in(client, "ada", PASSWORD, ip="198.51.100.99")
    assert right.status_code == 429
    assert TOO_MANY.search(right.text), right.text
    assert 0 < int(right.headers["Retry-After"]) <= 900
    assert signed_out(client), "a throttled sign-in never signs in, even with the right password"
    assert browser(app, "boss"), "another user is not held back"


def test_throttling_says_the_same_for_a_user_that_does_not_exist(app, accounts):
    answers = {}
    for name in ("ada", "nobody-here"):
        client = app.test_client()
        for n in range(5):
            try_sign_in(client, name, f"guess {n}")
        reply = try_sign_in(client, name, "guess again")
        answers[name] = (
            reply.status_code,
            TOO_MANY.search(reply.text).group(0),
            "Retry-After" in reply.headers,
        )
    assert answers["ada"] == answers["nobody-here"]


def test_guessing_from_one_address_is_throttled_across_users(app, accounts, sf_runtime):
    for n in range(20):
        users.create(sf_runtime.redis, f"user{n}", PASSWORD, "viewer")
    client = app.test_client()
    for n in range(20):
        assert try_sign_in(client, f"user{n}", "a wrong guess", ip="203.0.113.7").status_code == 401
    reply = try_sign_in(client, "vera", PASSWORD, ip="203.0.113.7")
    assert reply.status_code == 429 and TOO_MANY.search(reply.text)
    assert browser(app, "vera", ip="203.0.113.8"), "another address signs in"


# -- sessions that end -----------------------------------------------------------
def test_a_copied_session_cookie_stops_working_after_sign_out(app, accounts):
    owner, phone = browser(app, "vera"), browser(app, "vera")
    thief = app.test_client()
    thief.set_cookie("session", owner.get_cookie("session").value)
    assert thief.get("/").status_code == 200, "the copy works while the owner is signed in"
    owner.post("/logout", data={"csrf_token": token_of(owner, "/")})
    assert signed_out(thief) and signed_out(owner)
    assert not signed_out(phone), "signing out in one browser leaves the user's other browsers alone"
    api_ish = thief.get("/designer/catalog.json")
    assert api_ish.status_code == 401 and api_ish.json["errors"][0]["field"] == "(auth)"


def test_a_password_change_ends_the_users_other_sessions(app, accounts):
    here, there = browser(app, "boss"), browser(app, "boss")
    ada = browser(app, "ada")
    changed = here.post(
        "/users/boss/password",
        data={"password": "a brand new password", "csrf_token": token_of(here, "/users")},
        follow_redirects=True,
    )
    assert "password of boss was changed" in changed.text
    assert not signed_out(here), "the browser that changed it stays signed in"
    assert signed_out(there)
    assert not signed_out(ada)
    here.post(
        "/users/ada/password",
        data={"password": "ada's new password", "csrf_token": token_of(here, "/users")},
    )
    assert signed_out(ada)
    assert try_sign_in(app.test_client(), "ada", PASSWORD).status_code == 401
    assert try_sign_in(app.test_client(), "ada", "ada's new password").status_code == 302


def test_a_role_change_ends_the_users_sessions(app, accounts):
    boss, ada = browser(app, "boss"), browser(app, "ada")
    assert ada.get("/users").status_code == 200
    boss.post("/users/ada/role", data={"role": "viewer", "csrf_token": token_of(boss, "/users")})
    assert signed_out(ada)
    again = browser(app, "ada")
    assert again.get("/users").status_code == 403


# -- disabling and deleting users ------------------------------------------------
def test_an_administrator_disables_enables_and_deletes_a_user_on_the_users_screen(app, accounts):
    boss, vera = browser(app, "boss"), browser(app, "vera")
    page = boss.get("/users").text
    assert 'action="/users/vera/disable"' in page and 'href="/users/vera/delete"' in page
    done = boss.post(
        "/users/vera/disable", data={"csrf_token": token_of(boss, "/users")}, follow_redirects=True
    )
    assert "vera can no longer sign in" in done.text
    assert signed_out(vera), "a disabled user's sessions end at once"
    refused = try_sign_in(app.test_client(), "vera", PASSWORD)
    wrong = try_sign_in(app.test_client(), "boss", "not the password")
    assert (refused.status_code, NO_MATCH in refused.text) == (wrong.status_code, True)

    boss.post("/users/vera/enable", data={"csrf_token": token_of(boss, "/users")})
    assert browser(app, "vera")

    confirm = boss.get("/users/vera/delete")
    assert confirm.status_code == 200 and "Delete vera?" in confirm.text
    gone = boss.post(
        "/users/vera/delete", data={"csrf_token": token_of(boss, "/users")}, follow_redirects=True
    )
    assert "vera was deleted" in gone.text and 'data-user="vera"' not in gone.text
    assert try_sign_in(app.test_client(), "vera", PASSWORD).status_code == 401


def test_no_one_disables_or_deletes_themselves_and_only_administrators_may(app, accounts, sf_runtime):
    boss, vera = browser(app, "boss"), browser(app, "vera")
    token = token_of(boss, "/users")
    for action in ("disable", "delete"):
        reply = boss.post(f"/users/boss/{action}", data={"csrf_token": token}, follow_redirects=True)
        assert f"You cannot {action} yourself" in reply.text
    assert not signed_out(boss) and users.get(sf_runtime.redis, "boss")
    viewer_token = token_of(vera, "/")
    assert vera.post("/users/ada/disable", data={"csrf_token": viewer_token}).status_code == 403
    assert boss.post("/users/ada/disable", data={}).status_code == 400, "without the CSRF token"
    assert not users.get(sf_runtime.redis, "ada").get("disabled")


def test_the_command_line_disables_enables_and_deletes_users(sf, app, accounts, sf_runtime):
    vera = browser(app, "vera")
    assert sf("users", "disable", "vera").stdout.strip() == "vera can no longer sign in"
    assert signed_out(vera)
    assert try_sign_in(app.test_client(), "vera", PASSWORD).status_code == 401
    assert "disabled" in next(line for line in sf("users", "list").stdout.splitlines() if "vera" in line)
    assert sf("users", "enable", "vera").stdout.strip() == "vera can sign in again"
    assert browser(app, "vera")
    assert sf("users", "delete", "vera").stdout.strip() == "vera was deleted"
    assert "vera" not in sf("users", "list").stdout

    sf("users", "disable", "ada")
    last = sf("users", "disable", "boss", ok=False)
    assert last.returncode == 1 and "boss is the last active flow administrator" in last.stderr
    assert "last active flow administrator" in sf("users", "delete", "boss", ok=False).stderr
    assert "there is no user 'nemo'" in sf("users", "disable", "nemo", ok=False).stderr
    assert browser(app, "boss"), "the last administrator can still sign in"


def test_the_command_line_sets_a_password_and_ends_the_users_sessions(sf, app, accounts):
    vera = browser(app, "vera")
    out = sf("users", "set-password", "vera", "--password", "vera's new password").stdout.strip()
    assert out == "the password of vera was changed; vera's sessions have ended"
    assert signed_out(vera)
    assert try_sign_in(app.test_client(), "vera", "vera's new password").status_code == 302


# -- malformed CSRF tokens -------------------------------------------------------
@pytest.mark.parametrize("token", ["tökén", "\u00ff" * 43, "\x00abc", "x" * 5000])
def test_a_malformed_csrf_token_is_refused_with_its_cause(app, accounts, token):
    client = app.test_client()
    client.get("/login")
    login = client.post(
        "/login", data={"username": "boss", "password": PASSWORD}, headers={"X-CSRF-Token": token}
    )
    assert login.status_code == 400 and "X-CSRF-Token" in login.text, login.text
    boss = browser(app, "boss")
    field = boss.post(
        "/users", data={"username": "x", "password": "y", "role": "viewer", "csrf_token": token}
    )
    assert field.status_code == 400 and "csrf_token" in field.text, field.text
