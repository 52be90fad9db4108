"""The built-in ``oidc`` sign-in: any OpenID Connect identity provider, set up with
``SUPERFLOW_OIDC_ISSUER``, ``SUPERFLOW_OIDC_CLIENT_ID`` and ``SUPERFLOW_OIDC_CLIENT_SECRET``.

The role comes from the claim ``SUPERFLOW_OIDC_ROLE_CLAIM`` (``groups`` by default: a list of
group names, or one string) through ``SUPERFLOW_OIDC_ROLES`` (``Marketing admins=flow_admin;
Content team=content_editor; *=viewer``), first matching entry first.  Without the issuer
nothing is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from superflow import AuthProvider
from superflow import Config
from superflow import ConfigError
from superflow import Identity
from superflow import OpenIDConnect
from superflow import RoleRule
from superflow import SignInRefused
from superflow import hookimpl
from superflow import map_role


class OidcSignIn(AuthProvider):
    """Sign in with the configured OpenID Connect provider; role from its group claim."""

    name = "oidc"

    def __init__(
        self, connect: OpenIDConnect, label: str, role_claim: str, rules: tuple[RoleRule, ...]
    ) -> None:
        self.connect = connect
        self.label = label
        self.role_claim = role_claim
        self.rules = rules

    def begin(self, callback_url: str, attempt: dict[str, str]) -> str:
        return self.connect.authorization_url(callback_url, attempt)

    def finish(self, callback_url: str, params: Mapping[str, str], attempt: dict[str, str]) -> Identity:
        claims = self.connect.sign_in(
            callback_url, params, attempt, wanted=(self.role_claim, "email", "name")
        ).claims
        held = values_of(claims.get(self.role_claim))
        found = map_role(held, self.rules, "group")
        if found is None:
            yours = ", ".join(f"'{v}'" for v in held[:10]) or "none"
            raise SignInRefused(
                "Your account has no superflow role: none of your groups"
                f" ({yours}) is given one. Ask your administrator to add you to a group that has a"
                " superflow role, then sign in again.",
                403,
            )
        role, reason = found
        return Identity(
            subject=str(claims["sub"]),
            name=str(
                claims.get("name") or claims.get("preferred_username") or claims.get("email") or claims["sub"]
            ),
            email=str(claims.get("email") or ""),
            role=role,
            reason=reason,
        )


def values_of(claim: Any) -> list[str]:
    """A claim's values as strings: a list of them, or one string (``"a b"`` stays one value)."""
    if isinstance(claim, str):
        return [claim]
    if isinstance(claim, list):
        return [str(v) for v in claim if isinstance(v, str | int)]
    return []


def from_config(config: Config) -> OidcSignIn | None:
    """The provider ``config`` sets up, or ``None``; :class:`ConfigError` for a half-done setup."""
    if not config.oidc_issuer:
        return None
    for variable, value in (
        ("SUPERFLOW_OIDC_CLIENT_ID", config.oidc_client_id),
        ("SUPERFLOW_OIDC_CLIENT_SECRET", config.oidc_client_secret),
    ):
        if not value:
            raise ConfigError(f"{variable} is not set: SUPERFLOW_OIDC_ISSUER needs it to sign people in")
    if not config.oidc_roles:
        raise ConfigError(
            "SUPERFLOW_OIDC_ROLES is not set: without it nobody signing in with"
            f" {config.oidc_issuer} gets a role (e.g. 'Marketing admins=flow_admin; *=viewer')"
        )
    connect = OpenIDConnect(
        config.oidc_issuer,
        config.oidc_client_id,
        config.oidc_client_secret,
        label="Your identity provider",
        scopes=config.oidc_scopes,
        discovery_url=config.oidc_discovery_url,
    )
    return OidcSignIn(connect, config.oidc_label, config.oidc_role_claim, config.oidc_roles)


@hookimpl
def superflow_register_auth_providers(register: Callable[[AuthProvider], None], config: Config) -> None:
    provider = from_config(config)
    if provider is not None:
        register(provider)
