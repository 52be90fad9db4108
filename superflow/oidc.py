"""Signing in against an OpenID Connect identity provider: the relying party's side, on Authlib.

:class:`OpenIDConnect` reads the provider's discovery document, sends the browser to its
authorization endpoint (authorization code flow with PKCE ``S256``, ``state`` and ``nonce``),
exchanges the code at the token endpoint and checks the id token: its signature against the
provider's published keys (JWKS), ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and
``nonce``, with :data:`LEEWAY_SECONDS` of leeway for clocks that differ a little.

Keys rotate: the JWKS is cached for :data:`KEYS_SECONDS`; a token signed with a key id the
cache does not know makes it fetch the keys again at once, but at most once per
:data:`REFETCH_SECONDS`, so tokens with made-up key ids cannot make us hammer the provider.
Every request to the provider has a timeout.  What goes wrong is a :class:`SignInRefused`
whose message a person can read.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import ExpiredTokenError
from joserfc.errors import InvalidClaimError
from joserfc.errors import InvalidTokenError
from joserfc.errors import JoseError
from joserfc.errors import MissingClaimError
from joserfc.jwk import KeySet

from superflow.auth_providers import SignInRefused

LEEWAY_SECONDS = 60
KEYS_SECONDS = 3600
DISCOVERY_SECONDS = 3600
REFETCH_SECONDS = 300
TIMEOUT_SECONDS = 10.0
MAX_DOCUMENT_BYTES = 256 * 1024
#: Signatures we accept: the provider's own keys, never ``none`` or a shared secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


@dataclass(frozen=True)
class SignedIn:
    """What a finished sign-in gives: the checked id token's ``claims`` (with the userinfo
    endpoint's, when asked for), and the ``token`` response (its ``access_token`` calls the
    provider's or the CRM's API as the person who signed in)."""

    claims: dict[str, Any]
    token: dict[str, Any]


class OpenIDConnect:
    """One identity provider, as one client registered with it.

    ``issuer`` is the provider's issuer URL as its id tokens name it; the discovery document
    is at ``discovery_url`` (by default ``<issuer>/.well-known/openid-configuration``).
    ``label`` names the provider in messages ("SuperOffice")."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        label: str = "the identity provider",
        scopes: str = "openid profile email",
        discovery_url: str = "",
        timeout: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.label = label
        self.scopes = scopes
        self.discovery_url = discovery_url or f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] = {}
        self._discovered_at = float("-inf")
        self._keys: KeySet | None = None
        self._keys_at = float("-inf")
        self._refetched_at = float("-inf")

    # The browser's first step.

    def authorization_url(self, callback_url: str, attempt: dict[str, str]) -> str:
        """Where to send the browser; puts the attempt's nonce and PKCE verifier in ``attempt``."""
        endpoint = self._endpoint("authorization_endpoint")
        attempt["nonce"] = secrets.token_urlsafe(24)
        attempt["verifier"] = secrets.token_urlsafe(48)
        url, _ = self._client(callback_url).create_authorization_url(
            endpoint, state=attempt["state"], code_verifier=attempt["verifier"], nonce=attempt["nonce"]
        )
        return url

    # The callback.

    def sign_in(
        self,
        callback_url: str,
        params: Mapping[str, str],
        attempt: Mapping[str, str],
        wanted: Iterable[str] = (),
    ) -> SignedIn:
        """The checked claims of the person who signed in, from the callback's ``params``;
        claims in ``wanted`` that the id token lacks are read from the userinfo endpoint."""
        if params.get("error"):
            said = params.get("error_description") or params["error"]
            raise SignInRefused(f"{self.label} did not sign you in: {said[:300]}", 403)
        code = params.get("code", "")
        if not code:
            raise SignInRefused(f"{self.label} sent no sign-in code back: start signing in again.")
        client = self._client(callback_url)
        try:
            token = client.fetch_token(
                self._endpoint("token_endpoint"),
                code=code,
                code_verifier=attempt.get("verifier", ""),
                timeout=self.timeout,
            )
        except (OAuth2Error, OAuthError) as exc:
            raise SignInRefused(
                f"{self.label} did not accept this sign-in ({exc.error}): it may have been used already"
                " or taken too long; start signing in again."
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise SignInRefused(
                f"{self.label} could not be reached to finish signing in ({_short(exc)})."
            ) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused(f"{self.label} sent no id token: is the 'openid' scope allowed for this app?")
        claims = self.check_id_token(id_token, attempt.get("nonce", ""))
        missing = [name for name in wanted if name not in claims]
        if missing and self.discovery().get("userinfo_endpoint"):
            claims = {**self._userinfo(client, token, claims["sub"]), **claims}
        return SignedIn(claims=claims, token=dict(token))

    def check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The id token's claims if it is signed by the provider, for us, current and for this
        attempt (``nonce``); :class:`SignInRefused` saying which check failed otherwise."""
        header = _header(id_token)
        alg = header.get("alg")
        allowed = set(self.discovery().get("id_token_signing_alg_values_supported") or ["RS256"]) & set(
            ALGORITHMS
        )
        if alg not in allowed:
            raise SignInRefused(
                f"The sign-in from {self.label} is signed with {str(alg)[:20]!r},"
                " which superflow does not accept."
            )
        key = self._key(str(header.get("kid") or ""), alg)
        try:
            token = jwt.decode(id_token, key, algorithms=[alg])
        except JoseError:
            raise SignInRefused(
                f"The sign-in from {self.label} does not carry its valid signature: it was changed on the way"
                " or not made by it. Start signing in again."
            ) from None
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int(self.clock()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
            self._check_times(claims)
        except ExpiredTokenError:
            raise SignInRefused(
                f"The sign-in from {self.label} has expired: start signing in again."
            ) from None
        except (InvalidClaimError, MissingClaimError) as exc:
            raise SignInRefused(self._claim_problem(getattr(exc, "claim", ""))) from None
        except InvalidTokenError:
            raise SignInRefused(
                f"The sign-in from {self.label} is not valid yet: check the clocks of this server."
            ) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SignInRefused(self._claim_problem("azp"))
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        issued = claims.get("iat")
        if not isinstance(issued, int | float) or issued > self.clock() + LEEWAY_SECONDS:
            raise InvalidClaimError("iat")

    def _claim_problem(self, claim: str) -> str:
        words = {
            "iss": f"was not issued by {self.label} as configured ({self.issuer})",
            "aud": "was made for another application, not this superflow (its audience is not our client id)",
            "azp": "was made for another application, not this superflow (authorized party)",
            "nonce": "belongs to another sign-in attempt (its nonce does not match)",
            "sub": "does not say who signed in (no subject)",
            "iat": "gives no time it was issued, or one in the future",
            "exp": "gives no expiry time",
        }
        problem = words.get(claim, f"has a claim {claim!r} that is not valid")
        return f"The sign-in from {self.label} {problem}: start signing in again."

    # Provider documents.

    def discovery(self) -> dict[str, Any]:
        """The provider's discovery document, cached for :data:`DISCOVERY_SECONDS`."""
        with self._lock:
            if self.clock() - self._discovered_at < DISCOVERY_SECONDS:
                return self._discovery
        document = self._get_json(self.discovery_url, "discovery document")
        if document.get("issuer") != self.issuer:
            raise SignInRefused(
                f"{self.label}'s discovery document names the issuer {str(document.get('issuer'))[:200]!r},"
                f" not the configured {self.issuer!r}: check the issuer setting."
            )
        with self._lock:
            self._discovery, self._discovered_at = document, self.clock()
        return document

    def _endpoint(self, name: str) -> str:
        url = self.discovery().get(name)
        if not isinstance(url, str) or not url:
            raise SignInRefused(f"{self.label}'s discovery document gives no {name}.")
        return url

    def _key(self, kid: str, alg: str) -> Any:
        keys = self._key_set(refresh=False)
        if not _has_key(keys, kid):
            with self._lock:
                may = self.clock() - self._refetched_at >= REFETCH_SECONDS
                if may:
                    self._refetched_at = self.clock()
            if may:
                keys = self._key_set(refresh=True)
        if not _has_key(keys, kid):
            raise SignInRefused(
                f"The sign-in from {self.label} is signed with a key it does not publish: start signing in"
                " again, or ask your administrator if this keeps happening."
            )
        return keys.get_by_kid(kid) if kid else keys

    def _key_set(self, refresh: bool) -> KeySet:
        with self._lock:
            if not refresh and self._keys is not None and self.clock() - self._keys_at < KEYS_SECONDS:
                return self._keys
        document = self._get_json(self._endpoint("jwks_uri"), "signing keys")
        try:
            keys = KeySet.import_key_set(
                {"keys": [k for k in document.get("keys", []) if k.get("use", "sig") == "sig"]}
            )
        except (JoseError, ValueError, TypeError, AttributeError):
            raise SignInRefused(f"{self.label}'s signing keys could not be read.") from None
        with self._lock:
            self._keys, self._keys_at = keys, self.clock()
        return keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = requests.get(
                url, timeout=self.timeout, headers={"Accept": "application/json"}, stream=True
            )
            body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
            response.close()
        except requests.RequestException as exc:
            raise SignInRefused(
                f"{self.label} could not be reached for its {what} ({_short(exc)})."
            ) from None
        if response.status_code != 200 or len(body) > MAX_DOCUMENT_BYTES:
            raise SignInRefused(
                f"{self.label} did not give its {what} (HTTP {response.status_code} from {url})."
            )
        try:
            document = json.loads(body)
        except ValueError:
            raise SignInRefused(f"{self.label}'s {what} at {url} is not JSON.") from None
        if not isinstance(document, dict):
            raise SignInRefused(f"{self.label}'s {what} at {url} is not a JSON object.")
        return document

    def _userinfo(self, client: OAuth2Session, token: Mapping[str, Any], subject: str) -> dict[str, Any]:
        try:
            response = client.get(self._endpoint("userinfo_endpoint"), timeout=self.timeout)
            info = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError):
            info = {}
        if not isinstance(info, dict) or info.get("sub") != subject:
            return {}
        return info

    def _client(self, callback_url: str) -> OAuth2Session:
        methods = self._discovery.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            token_endpoint_auth_method=method,
            scope=self.scopes,
            redirect_uri=callback_url,
            code_challenge_method="S256",
        )


def _has_key(keys: KeySet, kid: str) -> bool:
    if not kid:
        return len(keys.keys) > 0
    return any(key.kid == kid for key in keys.keys)


def _header(id_token: str) -> dict[str, Any]:
    try:
        first = id_token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or id_token.count(".") != 2:
        raise SignInRefused("The sign-in did not carry a well-formed id token: start signing in again.")
    return header


def _short(exc: BaseException) -> str:
    return type(exc).__name__
