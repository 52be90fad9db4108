"""Screens in a CRM's frame, over real HTTP(S): no other site may frame them unless its origin is in
``SUPERFLOW_EMBED_ORIGINS``; then the session cookie is one a third-party frame sends."""

from __future__ import annotations

import pytest
import requests

from superflow import users
from superflow.config import Config
from superflow.config import ConfigError
from superflow.testing import PASSWORD
from superflow.testing import LiveServer
from superflow.testing import csrf_token
from superflow.webapp import create_app

#: The live HTTPS server's certificate is made for the run, so clients do not verify it.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

CRMS = ("https://online.superoffice.com", "https://crm.example:8443")


def signing_in(rt, base):
    """The headers of the sign-in page and of the answer to a correct sign-in."""
    users.create(rt.redis, "kari", PASSWORD, "flow_admin")
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=10, verify=False)
    answer = browser.post(
        f"{base}/login",
        data={"username": "kari", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        allow_redirects=False,
        timeout=10,
        verify=False,  # the live server's certificate is made for the run
    )
    assert answer.status_code == 302, answer.text
    return page.headers, answer.headers


def test_without_embed_origins_no_other_site_may_frame_a_screen(sf_runtime):
    with LiveServer(create_app(runtime=sf_runtime)) as base:
        page, answer = signing_in(sf_runtime, base)
    assert page["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors" not in page["Content-Security-Policy"]
    assert "SameSite=Lax" in answer["Set-Cookie"]
    assert "Partitioned" not in answer["Set-Cookie"]


def test_the_named_crms_may_frame_the_screens_and_the_session_cookie_crosses_sites(sf_plugin):
    rt = sf_plugin(embed_origins=CRMS)
    with LiveServer(create_app(runtime=rt), https=True) as base:
        page, answer = signing_in(rt, base)
        unsigned = requests.post(
            f"{base}/login", data={"username": "kari", "password": PASSWORD}, timeout=10, verify=False
        )
    assert "X-Frame-Options" not in page
    assert page["Content-Security-Policy"].endswith(
        "; frame-ancestors 'self' https://online.superoffice.com https://crm.example:8443"
    )
    assert "default-src 'self'" in page["Content-Security-Policy"]
    cookie = answer["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "Partitioned" in cookie, "browsers that block third-party cookies still send a partitioned one"
    assert unsigned.status_code == 400, "a form post without the session's CSRF token is still refused"


def test_the_origins_are_read_as_browsers_compare_them():
    config = Config.from_env(
        {"SUPERFLOW_EMBED_ORIGINS": "https://Online.SuperOffice.com:443 https://crm.example:8443/"}
    )
    assert config.embed_origins == CRMS


@pytest.mark.parametrize(
    "bad", ["crm.example", "https://crm.example/app", "https://*.superoffice.com", "ftp://crm.example", "*"]
)
def test_what_is_not_an_origin_is_refused_naming_it(bad):
    with pytest.raises(ConfigError, match=r"SUPERFLOW_EMBED_ORIGINS: .* is not an origin") as refused:
        Config.from_env({"SUPERFLOW_EMBED_ORIGINS": f"https://online.superoffice.com,{bad}"})
    assert repr(bad) in str(refused.value)
