"""Sign in with SuperOffice: SuperOffice Online's identity provider (SuperID, OpenID Connect),
with the superflow role from the associate's functional rights in SuperOffice.

After the OpenID Connect sign-in (:class:`superflow.OpenIDConnect`), the id token's
SuperOffice claims name the tenant (``ctx``) and its WebAPI (``webapi_url``); the signed-in
associate's functional rights are read with the sign-in's own access token from
``GET <webapi_url>/v1/User/currentPrincipal`` (``FunctionRights``) and mapped by
``SUPERFLOW_SUPEROFFICE_SIGNIN_RIGHTS`` (default: "Flow administrator" → flow administrator,
"Can edit flow content" → content editor; names compared without regard to case, spaces or
punctuation).  Only the tenant superflow is set up for may sign in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from superflow import AuthProvider
from superflow import Config
from superflow import ConfigError
from superflow import Identity
from superflow import OpenIDConnect
from superflow import RoleRule
from superflow import SignInRefused
from superflow import checked_roles
from superflow import map_role

CLAIM = "http://schemes.superoffice.net/identity/"
ENVIRONMENTS = {
    "sod": "sod",
    "development": "sod",
    "stage": "qaonline",
    "qaonline": "qaonline",
    "online": "online",
}
DEFAULT_RIGHTS = "Flow administrator=flow_admin; Can edit flow content=content_editor"
TIMEOUT_SECONDS = 10.0
TENANT = re.compile(r"/(Cust\d+)(/|$)", re.IGNORECASE)


class SuperOfficeSignIn(AuthProvider):
    """The ``superoffice`` sign-in; see the module's docstring."""

    name = "superoffice"
    label = "Sign in with SuperOffice"

    def __init__(self, connect: OpenIDConnect, rules: tuple[RoleRule, ...], tenant: str) -> None:
        self.connect = connect
        self.rules = rules
        self.tenant = tenant

    def begin(self, callback_url: str, attempt: dict[str, str]) -> str:
        return self.connect.authorization_url(callback_url, attempt)

    def finish(self, callback_url: str, params: Mapping[str, str], attempt: dict[str, str]) -> Identity:
        signed = self.connect.sign_in(callback_url, params, attempt)
        claims = signed.claims
        ctx = str(claims.get(CLAIM + "ctx") or "")
        if self.tenant and ctx.lower() != self.tenant.lower():
            raise SignInRefused(
                f"You signed in to another SuperOffice customer ({ctx[:40] or 'none named'}) than the one"
                f" superflow works with ({self.tenant}): sign in with your account there.",
                403,
            )
        principal = self._principal(claims, str(signed.token.get("access_token") or ""))
        rights = [str(r) for r in principal.get("FunctionRights") or [] if isinstance(r, str)]
        found = map_role(rights, self.rules, "functional right", exact=False)
        if found is None:
            raise SignInRefused(
                "Your account has no superflow role: your SuperOffice role gives none of the functional"
                " rights 'Flow administrator' or 'Can edit flow content'. Ask your SuperOffice administrator"
                " to give your role one of them, then sign in again.",
                403,
            )
        role, reason = found
        email = str(claims.get(CLAIM + "email") or principal.get("EMailAddress") or claims.get("email") or "")
        return Identity(
            subject=f"{ctx}/{claims['sub']}" if ctx else str(claims["sub"]),
            name=str(principal.get("FullName") or email or claims["sub"]),
            email=email,
            role=role,
            reason=f"{reason} (SuperOffice)",
        )

    def _principal(self, claims: Mapping[str, Any], access_token: str) -> dict[str, Any]:
        webapi = str(claims.get(CLAIM + "webapi_url") or "")
        if urlsplit(webapi).scheme != "https":
            raise SignInRefused("SuperOffice did not say where your tenant's WebAPI is (webapi_url).")
        url = webapi.rstrip("/") + "/v1/User/currentPrincipal"
        try:
            response = requests.get(
                url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise SignInRefused(
                f"SuperOffice could not be reached to read your functional rights ({type(exc).__name__})."
            ) from None
        if response.status_code != 200:
            raise SignInRefused(
                f"SuperOffice did not give your functional rights (HTTP {response.status_code} from"
                " User/currentPrincipal): start signing in again."
            )
        try:
            principal = response.json()
        except ValueError:
            principal = None
        if not isinstance(principal, dict):
            raise SignInRefused("SuperOffice's answer about your functional rights is not a principal.")
        return principal


def from_config(config: Config) -> SuperOfficeSignIn | None:
    """The sign-in ``SUPERFLOW_SUPEROFFICE_SIGNIN_*`` sets up, or ``None`` without a client id."""
    client_id = config.setting("superoffice_signin_client_id").strip()
    if not client_id:
        return None
    secret = config.setting("superoffice_signin_client_secret").strip()
    if not secret:
        raise ConfigError(
            "SUPERFLOW_SUPEROFFICE_SIGNIN_CLIENT_SECRET is not set: the SuperOffice sign-in needs the"
            " application's client secret from the developer portal"
        )
    environment = config.setting("superoffice_signin_environment", "online").strip().lower() or "online"
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"SUPERFLOW_SUPEROFFICE_SIGNIN_ENVIRONMENT: {environment!r} is not sod, stage or online"
        )
    host = f"https://{ENVIRONMENTS[environment]}.superoffice.com"
    issuer = config.setting("superoffice_signin_issuer").strip() or host
    discovery = config.setting("superoffice_signin_discovery_url").strip() or (
        f"{host}/login/.well-known/openid-configuration" if issuer == host else ""
    )
    rights = checked_roles(
        "SUPERFLOW_SUPEROFFICE_SIGNIN_RIGHTS", config.setting("superoffice_signin_rights") or DEFAULT_RIGHTS
    )
    tenant = config.setting("superoffice_signin_tenant").strip()
    if not tenant:
        found = TENANT.search(urlsplit(config.setting("superoffice_url")).path)
        tenant = found.group(1) if found else ""
    connect = OpenIDConnect(
        issuer, client_id, secret, label="SuperOffice", scopes="openid", discovery_url=discovery
    )
    return SuperOfficeSignIn(connect, rights, tenant)
