"""Signing in with an OpenID Connect provider (the built-in ``oidc`` plugin), over real HTTP
against a real provider built from Authlib's server side (tests/oidc_provider.py): the whole
sign-in, the id-token checks that refuse a tampered, expired, foreign or replayed sign-in,
key rotation, the role mapping and a role change at the next sign-in."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from oidc_provider import CLIENT_ID
from oidc_provider import CLIENT_SECRET
from oidc_provider import IdentityProvider
from oidc_provider import Site
from oidc_provider import sign_in_through

from superflow import users
from superflow.config import ConfigError
from superflow.config import checked_roles
from superflow.testing import sign_in

ROLES = "Marketing admins=flow_admin; Content team=content_editor; Readers=viewer"


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityProvider]:
    # Authlib refuses plain http outside tests; the provider here has no certificate.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture
def make_site(idp: IdentityProvider, sf_plugin: Callable[..., Any]) -> Iterator[Callable[..., Site]]:
    """``make_site(**config)``: superflow on real HTTP with ``idp`` as its OpenID Connect provider."""
    running: list[Site] = []

    def make(roles: str = ROLES, **config: Any) -> Site:
        def runtime(url: str) -> Any:
            return sf_plugin(
                base_url=url,
                oidc_issuer=idp.issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=CLIENT_SECRET,
                oidc_label="Sign in with Example ID",
                oidc_roles=checked_roles("SUPERFLOW_OIDC_ROLES", roles),
                **config,
            )

        site = Site(runtime).__enter__()
        idp.client.redirect_uris = [f"{site.url}/login/oidc/callback"]
        running.append(site)
        return site

    yield make
    for site in running:
        site.__exit__(None, None, None)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


def provider_user(site: Site, account: str) -> dict[str, Any] | None:
    return users.get(site.runtime.redis, users.provider_user_name("oidc", f"sub-{account}"))


def signed_in_page(response: requests.Response) -> bool:
    return (
        response.status_code == 200 and "Sign out" in response.text and 'name="password"' not in response.text
    )


def test_signing_in_through_the_provider_gives_the_mapped_role_and_says_why(idp, site):
    idp.person("ada", groups=["Sales", "Marketing admins"], name="Ada Lovelace")
    browser = requests.Session()

    home = sign_in_through(idp, browser, site.url, "ada")

    assert home.url == f"{site.url}/"
    assert signed_in_page(home) and "Ada Lovelace" in home.text
    user = provider_user(site, "ada")
    assert user["role"] == "flow_admin"
    assert user["role_reason"] == "group 'Marketing admins' → Flow administrator"
    assert user["email"] == "ada@example.com"
    screen = browser.get(f"{site.url}/users", timeout=10)
    assert screen.status_code == 200
    assert "from Example ID: group &#39;Marketing admins&#39; → Flow administrator" in screen.text
    assert "last signed in" in screen.text


def test_the_browser_is_sent_with_pkce_state_and_nonce_to_the_provider(idp, site):
    browser = requests.Session()
    start = browser.get(f"{site.url}/login/oidc", allow_redirects=False, timeout=10)

    assert start.status_code == 302
    target = start.headers["Location"]
    assert target.startswith(f"{idp.issuer}/authorize?")
    for part in (
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        f"client_id={CLIENT_ID}",
    ):
        assert part in target
    assert "redirect_uri=" + requests.utils.quote(f"{site.url}/login/oidc/callback", safe="") in target


def test_after_signing_in_the_browser_goes_to_the_page_it_asked_for_on_this_site(idp, site):
    idp.person("ann", groups=["Marketing admins"])
    browser = requests.Session()
    asked = browser.get(f"{site.url}/users", timeout=10)
    assert asked.url == f"{site.url}/login?next=/users"
    button = re.search(r'href="(/login/oidc[^"]*)"', asked.text).group(1).replace("&amp;", "&")
    form = browser.get(site.url + button, timeout=10)
    action = re.search(r'action="([^"]+)"', form.text).group(1).replace("&amp;", "&")

    landed = browser.post(idp.issuer + action, data={"account": "ann"}, timeout=10)

    assert landed.url == f"{site.url}/users" and landed.status_code == 200

    other = requests.Session()
    form = other.get(f"{site.url}/login/oidc?next=//evil.example/", timeout=10)
    action = re.search(r'action="([^"]+)"', form.text).group(1).replace("&amp;", "&")
    assert other.post(idp.issuer + action, data={"account": "ann"}, timeout=10).url == f"{site.url}/"


def test_a_pop_up_sign_in_hands_the_frame_a_code_that_signs_it_in_once(idp, site):
    idp.person("pia", groups=["Marketing admins"], name="Pia Holm")
    frame = requests.Session()
    asked = frame.get(f"{site.url}/panels/person?id=1", timeout=10)
    assert asked.url == f"{site.url}/login?next=/panels/person?id%3D1"
    pop_up = requests.Session()
    form = pop_up.get(f"{site.url}/login/oidc?popup=1&next=/panels/person?id%3D1", timeout=10)
    action = re.search(r'action="([^"]+)"', form.text).group(1).replace("&amp;", "&")

    done = pop_up.post(idp.issuer + action, data={"account": "pia"}, timeout=10)

    assert done.status_code == 200 and "You are signed in" in done.text
    assert "/static/signin_handoff.js" in done.text
    code = re.search(r'data-handoff="([^"]+)"', done.text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', asked.text).group(1)
    assert 'action="/login/handoff"' in asked.text
    landed = frame.post(f"{site.url}/login/handoff", data={"code": code, "csrf_token": token}, timeout=10)
    assert landed.url == f"{site.url}/panels/person?id=1"
    assert "Sign out" in frame.get(f"{site.url}/", timeout=10).text
    thief = requests.Session()
    page = thief.get(f"{site.url}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    reused = thief.post(f"{site.url}/login/handoff", data={"code": code, "csrf_token": token}, timeout=10)
    assert reused.status_code == 400 and "This sign-in has expired" in reused.text


@pytest.mark.parametrize(
    ("groups", "role", "reason"),
    [
        (["Marketing admins"], "flow_admin", "group 'Marketing admins' → Flow administrator"),
        (["Content team"], "content_editor", "group 'Content team' → Content editor"),
        (["Readers"], "viewer", "group 'Readers' → Viewer"),
        (["Readers", "Marketing admins"], "flow_admin", "group 'Marketing admins' → Flow administrator"),
    ],
)
def test_each_mapping_rule_gives_its_role_first_rule_first(idp, site, groups, role, reason):
    idp.person("bo", groups=groups)

    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "bo"))
    assert (provider_user(site, "bo")["role"], provider_user(site, "bo")["role_reason"]) == (role, reason)


def test_the_catch_all_rule_gives_anyone_its_role(idp, make_site):
    site = make_site(roles="Marketing admins=flow_admin; *=viewer")
    idp.person("cy", groups=[])

    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "cy"))
    assert provider_user(site, "cy")["role"] == "viewer"
    assert provider_user(site, "cy")["role_reason"] == "anyone with an account (rule '*') → Viewer"


def test_no_matching_group_is_refused_with_a_page_saying_what_to_do(idp, site):
    idp.person("dan", groups=["Sales"])
    browser = requests.Session()

    page = sign_in_through(idp, browser, site.url, "dan")

    assert page.status_code == 403
    assert "Your account has no superflow role" in page.text and "&#39;Sales&#39;" in page.text
    assert provider_user(site, "dan") is None
    assert browser.get(f"{site.url}/", timeout=10).url.startswith(f"{site.url}/login")


def test_groups_missing_from_the_id_token_are_read_from_userinfo(idp, site):
    idp.groups_in_id_token = False
    idp.person("eve", groups=["Content team"])

    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "eve"))
    assert provider_user(site, "eve")["role"] == "content_editor"


@pytest.mark.parametrize(
    ("knob", "words"),
    [
        ("tamper", "does not carry its valid signature"),
        ("expired", "has expired"),
        ("audience", "was made for another application"),
        ("nonce", "belongs to another sign-in attempt"),
        ("issuer", "was not issued by"),
        ("unpublished key", "signed with a key it does not publish"),
    ],
)
def test_a_bad_id_token_is_refused_and_nobody_is_signed_in(idp, site, knob, words):
    idp.person("fay", groups=["Marketing admins"])
    now = int(time.time())
    if knob == "tamper":
        idp.tamper_next = True
    elif knob == "expired":
        idp.next_claims = {"iat": now - 7200, "exp": now - 3600}
    elif knob == "audience":
        idp.next_claims = {"aud": ["someone-else"]}
    elif knob == "nonce":
        idp.next_claims = {"nonce": "another-attempt"}
    elif knob == "issuer":
        idp.next_claims = {"iss": "https://impostor.example"}
    else:
        idp.unpublished_key_next = True
    browser = requests.Session()

    page = sign_in_through(idp, browser, site.url, "fay")

    assert page.status_code == 400
    assert words in page.text
    assert provider_user(site, "fay") is None
    assert "Sign out" not in browser.get(f"{site.url}/login", timeout=10).text


def test_a_callback_with_a_wrong_or_no_state_is_refused(idp, site):
    idp.person("gus", groups=["Marketing admins"])
    browser = requests.Session()
    start = browser.get(f"{site.url}/login/oidc", allow_redirects=False, timeout=10)
    assert start.status_code == 302

    wrong = browser.get(f"{site.url}/login/oidc/callback?code=abc&state=forged", timeout=10)
    none = requests.get(f"{site.url}/login/oidc/callback?code=abc", timeout=10)

    for page in (wrong, none):
        assert page.status_code == 400
        assert "did not start on this browser, or was used already" in page.text
    assert idp.token_requests == 0


def test_a_replayed_callback_is_refused_and_the_provider_refuses_a_used_code(idp, site):
    idp.person("hal", groups=["Marketing admins"])
    browser = requests.Session()
    page = browser.get(f"{site.url}/login/oidc", timeout=10)
    action = re.search(r'action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    back = browser.post(idp.issuer + action, data={"account": "hal"}, allow_redirects=False, timeout=10)
    callback = back.headers["Location"]
    cookies = browser.cookies.copy()

    first = browser.get(callback, timeout=10)
    assert signed_in_page(first)
    again = browser.get(callback, timeout=10)
    assert again.status_code == 400 and "used already" in again.text

    # The same callback with the attempt's cookie restored gets past our state check: the
    # provider itself refuses the code the second time.
    thief = requests.Session()
    thief.cookies.update(cookies)
    stolen = thief.get(callback, timeout=10)
    assert stolen.status_code == 400 and "did not accept this sign-in (invalid_grant)" in stolen.text
    assert "Sign out" not in stolen.text


def test_a_rotated_signing_key_is_fetched_once_and_unknown_keys_do_not_hammer_the_provider(idp, site):
    idp.person("ivy", groups=["Readers"])
    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "ivy"))
    assert idp.jwks_fetches == 1

    idp.rotate_key()
    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "ivy"))
    assert idp.jwks_fetches == 2

    for _ in range(2):
        idp.unpublished_key_next = True
        refused = sign_in_through(idp, requests.Session(), site.url, "ivy")
        assert "signed with a key it does not publish" in refused.text
    assert idp.jwks_fetches == 2  # within REFETCH_SECONDS of the last refetch: the cache answers
    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "ivy"))


def test_a_group_change_at_the_provider_applies_at_the_next_sign_in(idp, site):
    person = idp.person("jo", groups=["Content team"])
    first = requests.Session()
    assert signed_in_page(sign_in_through(idp, first, site.url, "jo"))
    assert provider_user(site, "jo")["role"] == "content_editor"
    assert first.get(f"{site.url}/users", timeout=10).status_code == 403

    person.groups = ["Marketing admins"]
    second = requests.Session()
    assert signed_in_page(sign_in_through(idp, second, site.url, "jo"))

    assert provider_user(site, "jo")["role"] == "flow_admin"
    screen = second.get(f"{site.url}/users", timeout=10)
    assert "group &#39;Marketing admins&#39; → Flow administrator" in screen.text
    assert "Content team" not in screen.text
    # The role changed, so the sign-in with the old role has ended.
    assert first.get(f"{site.url}/", timeout=10).url.startswith(f"{site.url}/login")


def test_a_disabled_provider_user_stays_out_though_the_provider_says_yes(idp, site):
    idp.person("kim", groups=["Content team"])
    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "kim"))
    users.create(site.runtime.redis, "boss", "correct horse battery", "flow_admin")
    users.disable(site.runtime.redis, users.provider_user_name("oidc", "sub-kim"))

    page = sign_in_through(idp, requests.Session(), site.url, "kim")

    assert page.status_code == 403
    assert "Your superflow account is disabled" in page.text


def test_the_role_of_a_provider_user_is_not_set_by_hand(idp, site):
    idp.person("lee", groups=["Readers"])
    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "lee"))
    users.create(site.runtime.redis, "boss", "correct horse battery", "flow_admin")
    admin = requests.Session()
    token = sign_in(admin, "boss", base_url=site.url)
    name = users.provider_user_name("oidc", "sub-lee")

    screen = admin.get(f"{site.url}/users", timeout=10).text
    row = screen[screen.index(f'data-user="{name}"') :].split("</tr>")[0]
    assert 'name="role"' not in row and "Password" not in row
    answer = admin.post(
        f"{site.url}/users/{name}/role", data={"role": "flow_admin", "csrf_token": token}, timeout=10
    )

    assert "the role of Lee comes from Example ID" in answer.text.replace("&#39;", "'")
    assert provider_user(site, "lee")["role"] == "viewer"


def test_a_provider_account_never_takes_over_a_local_user_of_the_same_name(idp, site):
    users.create(site.runtime.redis, "mo@example.com", "correct horse battery", "viewer")
    idp.person("mo", groups=["Marketing admins"])
    idp.people["mo"].sub = "mo@example.com"

    assert signed_in_page(sign_in_through(idp, requests.Session(), site.url, "mo"))

    assert users.get(site.runtime.redis, "mo@example.com")["role"] == "viewer"
    local = requests.Session()
    sign_in(local, "mo@example.com", base_url=site.url)
    assert local.get(f"{site.url}/users", timeout=10).status_code == 403


def test_password_sign_in_stays_beside_the_provider_and_can_be_turned_off(idp, make_site):
    site = make_site()
    users.create(site.runtime.redis, "local-admin", "correct horse battery", "flow_admin")
    page = requests.get(f"{site.url}/login", timeout=10).text
    assert "Sign in with Example ID" in page and 'name="password"' in page
    sign_in(requests.Session(), "local-admin", base_url=site.url)

    closed = make_site(password_signin=False)
    users.create(closed.runtime.redis, "local-admin", "correct horse battery", "flow_admin")
    page = requests.get(f"{closed.url}/login", timeout=10).text
    assert "Sign in with Example ID" in page and 'name="password"' not in page
    client = closed.app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = "a-token-of-this-session"
    form = {
        "username": "local-admin",
        "password": "correct horse battery",
        "csrf_token": "a-token-of-this-session",
    }
    refused = client.post("/login", data=form)
    assert refused.status_code == 403 and "Signing in with a password is turned off" in refused.text
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"oidc_client_secret": CLIENT_SECRET, "oidc_roles": checked_roles("x", ROLES)},
            "SUPERFLOW_OIDC_CLIENT_ID",
        ),
        (
            {"oidc_client_id": CLIENT_ID, "oidc_roles": checked_roles("x", ROLES)},
            "SUPERFLOW_OIDC_CLIENT_SECRET",
        ),
        (
            {"oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET},
            "SUPERFLOW_OIDC_ROLES is not set",
        ),
    ],
)
def test_a_half_done_provider_setup_stops_the_web_app_naming_the_variable(sf_plugin, settings, named):
    from superflow.webapp import create_app

    runtime = sf_plugin(oidc_issuer="https://id.example", **settings)
    with pytest.raises(ConfigError, match=named):
        create_app(runtime=runtime)


def test_password_sign_in_cannot_be_turned_off_with_no_other_way_in(sf_plugin):
    from superflow.webapp import create_app

    with pytest.raises(ConfigError, match="SUPERFLOW_PASSWORD_SIGNIN is off but no other way to sign in"):
        create_app(runtime=sf_plugin(password_signin=False))
