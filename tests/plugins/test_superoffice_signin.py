"""Sign in with SuperOffice: the OpenID Connect part runs against the tests' real provider
(tests/oidc_provider.py) set up as SuperOffice's issuer and sending SuperID's claims; the
WebAPI's ``User/currentPrincipal`` is ``responses``, shaped like the documented
SoPrincipalCarrier (fixtures/superoffice/current_principal.json names its page)."""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from oidc_provider import CLIENT_ID
from oidc_provider import CLIENT_SECRET
from oidc_provider import IdentityProvider
from oidc_provider import Site
from oidc_provider import sign_in_through

from superflow import users
from superflow.config import Config
from superflow.config import ConfigError
from superflow.plugins.superoffice.signin import CLAIM
from superflow.plugins.superoffice.signin import from_config

WEBAPI = "https://sod.superoffice.com/Cust12345/api/"
PRINCIPAL = f"{WEBAPI}v1/User/currentPrincipal"


def principal(**changes: Any) -> dict[str, Any]:
    path = Path(__file__).parent / "fixtures" / "superoffice" / "current_principal.json"
    body = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
    return {**body, **changes}


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityProvider]:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture
def webapi(idp: IdentityProvider) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield mock


@pytest.fixture
def site(idp: IdentityProvider, sf_plugin: Callable[..., Any], webapi: Any) -> Iterator[Site]:
    def runtime(url: str) -> Any:
        return sf_plugin(
            base_url=url,
            extra={
                "superoffice_signin_client_id": CLIENT_ID,
                "superoffice_signin_client_secret": CLIENT_SECRET,
                "superoffice_signin_issuer": idp.issuer,
                "superoffice_signin_environment": "sod",
                "superoffice_url": "https://sod.superoffice.com/Cust12345/api/v1",
            },
        )

    with Site(runtime) as running:
        idp.client.redirect_uris = [f"{running.url}/login/superoffice/callback"]
        yield running


def associate(idp: IdentityProvider, account: str = "ada", ctx: str = "Cust12345") -> None:
    idp.person(
        account,
        **{
            CLAIM + "ctx": ctx,
            CLAIM + "webapi_url": WEBAPI,
            CLAIM + "associateid": "5",
            CLAIM + "email": "ada@fjord.example",
        },
    )


def signed_in_user(site: Site, ctx: str = "Cust12345", account: str = "ada") -> dict[str, Any] | None:
    return users.get(site.runtime.redis, users.provider_user_name("superoffice", f"{ctx}/sub-{account}"))


def test_the_functional_right_flow_administrator_signs_in_as_flow_administrator(idp, site, webapi):
    associate(idp)
    call = webapi.get(PRINCIPAL, json=principal())
    browser = requests.Session()

    home = sign_in_through(idp, browser, site.url, "ada", provider="superoffice")

    assert home.status_code == 200 and "Ada Lovelace" in home.text and "Sign out" in home.text
    assert call.call_count == 1
    assert call.calls[0].request.headers["Authorization"].startswith("Bearer ")
    user = signed_in_user(site)
    assert user["role"] == "flow_admin"
    assert user["role_reason"] == "functional right 'flow-administrator' → Flow administrator (SuperOffice)"
    assert user["email"] == "ada@fjord.example"
    screen = browser.get(f"{site.url}/users", timeout=10).text
    assert "from SuperOffice: functional right &#39;flow-administrator&#39;" in screen


def test_a_changed_role_in_superoffice_applies_at_the_next_sign_in(idp, site, webapi):
    associate(idp)
    call = webapi.get(PRINCIPAL, json=principal(FunctionRights=["Can edit flow content"]))
    assert (
        sign_in_through(idp, requests.Session(), site.url, "ada", provider="superoffice").status_code == 200
    )
    assert signed_in_user(site)["role"] == "content_editor"

    webapi.replace(responses.GET, PRINCIPAL, json=principal(FunctionRights=["Flow administrator"]))
    assert (
        sign_in_through(idp, requests.Session(), site.url, "ada", provider="superoffice").status_code == 200
    )

    assert signed_in_user(site)["role"] == "flow_admin"
    assert (
        signed_in_user(site)["role_reason"]
        == "functional right 'Flow administrator' → Flow administrator (SuperOffice)"
    )
    assert call.call_count == 1


def test_an_associate_without_flow_rights_is_refused(idp, site, webapi):
    associate(idp)
    webapi.get(PRINCIPAL, json=principal(FunctionRights=["allow-bulk-update"]))

    page = sign_in_through(idp, requests.Session(), site.url, "ada", provider="superoffice")

    assert page.status_code == 403
    assert "Ask your SuperOffice administrator" in page.text
    assert signed_in_user(site) is None


def test_an_associate_of_another_superoffice_customer_is_refused(idp, site, webapi):
    associate(idp, ctx="Cust99999")
    call = webapi.get(PRINCIPAL, json=principal())

    page = sign_in_through(idp, requests.Session(), site.url, "ada", provider="superoffice")

    assert page.status_code == 403 and "another SuperOffice customer (Cust99999)" in page.text
    assert call.call_count == 0
    assert signed_in_user(site, ctx="Cust99999") is None


def test_superoffice_online_is_the_default_environment_with_its_discovery_document():
    config = Config(extra={"superoffice_signin_client_id": "app", "superoffice_signin_client_secret": "s"})
    provider = from_config(config)

    assert provider.connect.issuer == "https://online.superoffice.com"
    assert (
        provider.connect.discovery_url
        == "https://online.superoffice.com/login/.well-known/openid-configuration"
    )
    stage = from_config(Config(extra={**config.extra, "superoffice_signin_environment": "stage"}))
    assert stage.connect.issuer == "https://qaonline.superoffice.com"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"superoffice_signin_client_id": "app"}, "SUPERFLOW_SUPEROFFICE_SIGNIN_CLIENT_SECRET"),
        (
            {
                "superoffice_signin_client_id": "app",
                "superoffice_signin_client_secret": "s",
                "superoffice_signin_environment": "prod",
            },
            "SUPERFLOW_SUPEROFFICE_SIGNIN_ENVIRONMENT: 'prod'",
        ),
        (
            {
                "superoffice_signin_client_id": "app",
                "superoffice_signin_client_secret": "s",
                "superoffice_signin_rights": "Flow administrator=boss",
            },
            "SUPERFLOW_SUPEROFFICE_SIGNIN_RIGHTS: 'Flow administrator=boss'",
        ),
    ],
)
def test_a_half_done_superoffice_sign_in_setup_is_refused_naming_the_setting(settings, named):
    with pytest.raises(ConfigError, match=named):
        from_config(Config(extra=settings))
