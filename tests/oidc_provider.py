"""A real OpenID Connect provider for the sign-in tests, built from Authlib's own server side
(``AuthorizationServer``, the authorization code grant with PKCE and the ``OpenIDCode``
extension) and served over real HTTP on a free port.

``with IdentityProvider() as idp:`` serves it at ``idp.issuer``; a test gives it people
(``idp.person("ada", groups=["Marketing admins"])``, groups changeable later), signs in through
its sign-in form (``idp.sign_in_form`` names the fields), and has knobs for what a test must
see refused: ``rotate_key()``, ``next_claims`` (claims of the next id token: an ``exp`` in
the past, another ``aud``, another ``nonce``), ``tamper_next`` (the next id token's signature
changed), ``unpublished_key_next`` (signed with a key the JWKS does not list),
``groups_in_id_token`` (``False``: groups only from the userinfo endpoint).  It counts what
was asked of it (``jwks_fetches``, ``token_requests``).
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask
from flask import jsonify
from flask import request
from joserfc.jwk import RSAKey

from superflow.testing.live import LiveServer

CLIENT_ID = "superflow-test-client"
CLIENT_SECRET = "test-client-secret-0123456789"
FORM = """<!doctype html><title>Test identity provider</title>
<h1>Test identity provider</h1><p>Sign in to continue to {client}</p>
<form method="post" action="{action}"><label>Account <input name="account"></label>
<button type="submit">Sign in and allow</button></form>"""


@dataclass
class Person:
    sub: str
    name: str
    email: str
    groups: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class _Client:
    def __init__(self, client_id: str, secret: str) -> None:
        self.client_id = client_id
        self.secret = secret
        self.redirect_uris: list[str] = []

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0] if self.redirect_uris else ""

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile", "email", "groups"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return not self.redirect_uris or redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class IdentityProvider:
    """The provider; see the module's docstring."""

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.client = _Client(client_id, client_secret)
        self.people: dict[str, Person] = {}
        self.codes: dict[str, _Code] = {}
        self.tokens: dict[str, str] = {}
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig", "alg": "RS256"})
        self.published: list[RSAKey] = [self.key]
        self.next_claims: dict[str, Any] = {}
        self.tamper_next = False
        self.unpublished_key_next = False
        self.groups_in_id_token = True
        self.jwks_fetches = 0
        self.token_requests = 0
        self.app = self._build()
        self._server = LiveServer(self.app)
        self.issuer = self._server.url

    def __enter__(self) -> IdentityProvider:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    # Knobs.

    def person(
        self, account: str, *, groups: list[str] | None = None, name: str = "", **extra: Any
    ) -> Person:
        """Add (or replace) a person who signs in with ``account``; their ``sub`` is ``sub-<account>``."""
        person = Person(
            sub=f"sub-{account}",
            name=name or account.capitalize(),
            email=f"{account}@example.com",
            groups=list(groups or []),
            extra=extra,
        )
        self.people[account] = person
        return person

    def rotate_key(self) -> None:
        """Sign with a new key from now on and publish only it (the old key is retired)."""
        number = len(self.published) + 1
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": f"key-{number}", "use": "sig", "alg": "RS256"}
        )
        self.published = [self.key]

    # The server.

    def _claims_of(self, person: Person, scope: str, for_id_token: bool) -> dict[str, Any]:
        info = UserInfo(sub=person.sub, name=person.name, email=person.email, **person.extra)
        if not for_id_token or self.groups_in_id_token:
            info["groups"] = list(person.groups)
        return dict(info)

    def _build(self) -> Flask:
        app = Flask("test_identity_provider")
        app.config["SECRET_KEY"] = "idp"
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                payload = req.payload
                provider.codes[code] = _Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=payload.redirect_uri,
                    scope=req.scope,
                    sub=req.user.sub,
                    nonce=payload.data.get("nonce"),
                    code_challenge=payload.data.get("code_challenge"),
                    code_challenge_method=payload.data.get("code_challenge_method"),
                    auth_time=int(time.time()),
                )

            def query_authorization_code(self, code: str, client: Any) -> _Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> Person | None:
                return next((p for p in provider.people.values() if p.sub == authorization_code.sub), None)

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Any) -> Any:
                if provider.unpublished_key_next:
                    provider.unpublished_key_next = False
                    return RSAKey.generate_key(2048, parameters={"kid": "not-published"})
                return provider.key

            def get_encode_header(self, client: Any) -> dict[str, str]:
                kid = "not-published" if provider.unpublished_key_next else provider.key.kid
                return {"alg": "RS256", "kid": kid}

            def get_client_algorithm(self, client: Any) -> str:
                return "RS256"

            def get_client_claims(self, client: Any) -> dict[str, Any]:
                now = int(time.time())
                return {"iss": provider.issuer, "aud": [client.get_client_id()], "iat": now, "exp": now + 300}

            def generate_user_info(self, user: Person, scope: str) -> dict[str, Any]:
                claims = provider._claims_of(user, scope, for_id_token=True)
                claims.update(provider.next_claims)
                provider.next_claims = {}
                return claims

        def save_token(token: dict[str, Any], req: Any) -> None:
            provider.tokens[token["access_token"]] = req.user.sub

        server = AuthorizationServer(app, query_client=self._query_client, save_token=save_token)
        server.register_grant(CodeGrant, [IdToken(require_nonce=True), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=f"{provider.issuer}/authorize",
                token_endpoint=f"{provider.issuer}/token",
                userinfo_endpoint=f"{provider.issuer}/userinfo",
                jwks_uri=f"{provider.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=["openid", "profile", "email", "groups"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            provider.jwks_fetches += 1
            return jsonify(keys=[key.as_dict(private=False) for key in provider.published])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            if request.method == "GET":
                server.get_consent_grant(end_user=None)
                action = request.full_path
                return FORM.format(client=provider.client.client_id, action=action.replace('"', "&quot;"))
            person = provider.people.get(request.form.get("account", ""))
            if person is None:
                return "No such account", 403
            grant = server.get_consent_grant(end_user=person)
            return server.create_authorization_response(grant_user=person, grant=grant)

        @app.post("/token")
        def token() -> Any:
            provider.token_requests += 1
            response = server.create_token_response()
            if provider.tamper_next and response.status_code == 200:
                provider.tamper_next = False
                body = response.get_json()
                head, payload, signature = body["id_token"].split(".")
                raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
                raw[10] ^= 0xFF
                changed = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
                body["id_token"] = f"{head}.{payload}.{changed}"
                return jsonify(body)
            return response

        @app.get("/userinfo")
        def userinfo() -> Any:
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            sub = provider.tokens.get(bearer)
            person = next((p for p in provider.people.values() if p.sub == sub), None)
            if person is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(provider._claims_of(person, "openid", for_id_token=False))

        return app

    def _query_client(self, client_id: str) -> _Client | None:
        return self.client if client_id == self.client.client_id else None


class Site:
    """superflow's web app over real HTTP, built once its address is known (the provider's
    callback URL comes from ``SUPERFLOW_BASE_URL``): ``with Site(make_runtime) as site:``."""

    def __init__(self, make_runtime: Any) -> None:
        from superflow.webapp import create_app

        self._app: Any = None
        self._server = LiveServer(lambda environ, start: self._app(environ, start))
        self.url = self._server.url
        self.runtime = make_runtime(self.url)
        self._app = create_app(runtime=self.runtime)
        self.app = self._app

    def __enter__(self) -> Site:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)


def sign_in_through(
    idp: IdentityProvider, browser: Any, site_url: str, account: str, provider: str = "oidc"
) -> Any:
    """Press the provider's button on the sign-in page, sign in as ``account`` on the provider's
    form and follow the redirects back; the last response (superflow's page)."""
    import html
    import re

    page = browser.get(f"{site_url}/login", timeout=10)
    button = re.search(rf'href="(/login/{provider}[^"]*)"', page.text)
    assert button, f"no {provider} button on the sign-in page:\n{page.text[:2000]}"
    form = browser.get(site_url + html.unescape(button.group(1)), timeout=10)
    assert form.url.startswith(idp.issuer), form.url
    action = html.unescape(re.search(r'action="([^"]+)"', form.text).group(1))
    return browser.post(idp.issuer + action, data={"account": account}, timeout=10)
