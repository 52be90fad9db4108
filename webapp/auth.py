"""Who is signed in to the admin screens: sessions, roles and CSRF protection.

The admin is for people; the JSON API (``/api/v1``) has keys of its own, and a
session cookie never authorises it.  Every state-changing request to the admin's
own pages carries the session's CSRF token.

A session is good only while its id is listed in :mod:`superflow.sessions`, so
signing out, a new password or role, and disabling the user end it even for a
copied cookie.  The sign-in pages themselves are :mod:`superflow.webapp.admin.signin`;
plugins that add admin pages protect them with :func:`login_required`,
:func:`role_required` and :func:`protect` from here.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

from flask import abort
from flask import g
from flask import jsonify
from flask import redirect
from flask import request
from flask import session
from flask import url_for

from superflow import sessions
from superflow import users
from superflow.webapp import embedding
from superflow.webapp.runtime import runtime

PROTECTED_BLUEPRINTS = {"auth", "views", "actions", "participants", "accounts", "designer"}
SESSION_HOURS = 8
SESSION_SECONDS = SESSION_HOURS * 3600
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")


def init_app(app: Any) -> None:
    """Session cookie settings and the CSRF check for the admin's pages."""
    secure = runtime_base_url(app).startswith("https://")
    app.config.update(
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        SESSION_COOKIE_HTTPONLY=True,
        **embedding.cookie_settings(app.extensions["superflow"].config.embed_origins, secure),
    )
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.context_processor(lambda: {"csrf_token": csrf_token, "current_user": g.get("user")})


def protect(blueprint: Any) -> Any:
    """Put a blueprint's state-changing requests under the admin's CSRF check (for
    plugins that add admin pages or endpoints); returns the blueprint."""
    PROTECTED_BLUEPRINTS.add(blueprint.name)
    return blueprint


def runtime_base_url(app: Any) -> str:
    return app.extensions["superflow"].config.base_url


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def start_session(username: str) -> None:
    """Sign ``username`` in on this browser: a new session id, listed server-side,
    and a new CSRF token."""
    session.clear()
    session.permanent = True
    session["user"] = username
    session["sid"] = sessions.begin(runtime().redis, username, SESSION_SECONDS)


def _load_user() -> None:
    g.user = None
    name = session.get("user")
    if not name:
        return
    conn = runtime().redis
    user = users.get(conn, name)
    if user and users.active(user) and sessions.alive(conn, name, session.get("sid", ""), SESSION_SECONDS):
        g.user = user
    else:
        session.pop("user", None)
        session.pop("sid", None)


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.blueprint not in PROTECTED_BLUEPRINTS:
        return
    field = request.form.get("csrf_token")
    sent, where = (
        (field, "csrf_token field") if field else (request.headers.get("X-CSRF-Token"), "X-CSRF-Token header")
    )
    if not sent:
        abort(
            400,
            description="The form has expired or did not come from this site: reload the page and try again.",
        )
    if not TOKEN.fullmatch(sent):
        abort(
            400,
            description=f"The {where} is not a token this site gives out (wrong characters or length):"
            " reload the page and try again.",
        )
    if not hmac.compare_digest(sent.encode("ascii"), session.get("csrf", "").encode("utf-8")):
        abort(
            400,
            description="The form has expired or did not come from this site: reload the page and try again.",
        )


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            if _wants_json():
                response = jsonify(
                    {"errors": [{"field": "(auth)", "message": "You are signed out: sign in again."}]}
                )
                response.status_code = 401
                return response
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def _wants_json() -> bool:
    """The admin's own scripts ask for JSON: they get a 401, not a sign-in page."""
    return (
        request.path.endswith(".json")
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Checked on the server for every action, not only hidden in the page."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user["role"] not in roles:
                abort(
                    403, description=f"This needs the role {' or '.join(users.role_name(r) for r in roles)}."
                )
            return view(*args, **kwargs)

        return wrapped

    return decorate
