"""Who is calling the JSON API: an API key in ``Authorization: Bearer sf_...`` (or
``X-API-Key``), the permission its role gives, and its rate limit.

Cookies are never read here, so the admin's session does not authorise the API;
and nothing outside ``/api/v1`` reads API keys, so a key does not open the admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import current_app
from flask import g
from flask import request

from superflow import apikeys
from superflow.webapp.api.errors import ApiError
from superflow.webapp.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])


def needs(permission: str) -> Callable[[F], F]:
    """Mark a view with the permission it needs (``read``, ``write``, ``run``,
    ``events``); put it nearest the ``def``."""
    if permission not in {p for perms in apikeys.ROLES.values() for p in perms}:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(func: F) -> F:
        func._sf_permission = permission  # type: ignore[attr-defined]
        return func

    return mark


def _secret() -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-API-Key", "").strip()


def authorise() -> None:
    """``before_request`` of every API blueprint: 401 without a valid key, 403 when
    its role lacks the view's permission, 429 over its rate limit."""
    if request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    permission = getattr(view, "_sf_permission", None) or "read"
    secret = _secret()
    if not secret:
        raise ApiError(
            401,
            "an API key is needed: send 'Authorization: Bearer sf_...' (superflow apikeys create)",
            headers={"WWW-Authenticate": 'Bearer realm="superflow"'},
        )
    rt = runtime()
    gate = current_app.extensions.get("superflow.apikeys")
    if gate is None:
        gate = current_app.extensions["superflow.apikeys"] = apikeys.Gate(rt.redis)
    key, verdict = gate.check(secret)
    if key is None or verdict is None:
        raise ApiError(
            401,
            "this API key is not known (revoked or mistyped)",
            headers={"WWW-Authenticate": 'Bearer realm="superflow", error="invalid_token"'},
        )
    g.api_key = key
    g.rate = verdict
    if not verdict.allowed:
        raise ApiError(
            429,
            f"rate limit of {key.limit} requests per {key.window} s reached for key {key.name!r}; "
            f"retry in {verdict.retry_after} s",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    if permission not in key.permissions:
        raise ApiError(403, f"the {key.role} role may not do this (it needs the {permission!r} permission)")


def rate_headers(response: Any) -> Any:
    """``after_request``: tell the caller where it stands."""
    verdict = g.get("rate")
    if verdict is not None:
        response.headers["X-RateLimit-Limit"] = str(verdict.limit)
        response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
    return response


def by() -> str:
    """Who made a change, for the flow's ``updated_by``."""
    key = g.get("api_key")
    return f"api:{key.name}" if key else "api"
