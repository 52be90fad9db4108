"""Signing in to the admin screens: sessions, roles and CSRF protection.

The admin is for people; the JSON API (``/api/v1``) has keys of its own, and a
session cookie never authorises it.  Every state-changing request to the admin's
own pages carries the session's CSRF token.

A session is good only while its id is listed in :mod:`superflow.sessions`, so
signing out, a new password or role, and disabling the user end it even for a
copied cookie.  Failed sign-ins are counted per user name and per address
(:mod:`superflow.signin_throttle`); over the limit, sign-in is refused before the
password is checked.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import math
import re
import secrets
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from superflow import sessions, users
from superflow.signin_throttle import Limits, SigninThrottle
from superflow.webapp.runtime import runtime

bp = Blueprint("auth", __name__)

PROTECTED_BLUEPRINTS = {"auth", "views", "actions", "participants", "accounts", "designer"}
SESSION_HOURS = 8
SESSION_SECONDS = SESSION_HOURS * 3600
NO_MATCH = "That user name and password do not match."
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")


def init_app(app: Any) -> None:
    """Session cookie settings and the CSRF check for the admin's pages."""
    secure = runtime_base_url(app).startswith("https://")
    app.config.update(
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
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


def safe_next(target: str) -> str | None:
    """``target`` if it is a path on this site as a browser will read it, else ``None``.

    Browsers drop tabs and newlines from a URL, read ``\\`` as ``/`` and ``//host`` as
    another site, so anything with a scheme, a host, a backslash, a control or space
    character or non-ASCII (before or after percent-decoding), or not starting with
    exactly one ``/``, is refused.
    """
    if not target or len(target) > 2000:
        return None
    parts = urlsplit(target)
    decoded_path = unquote(parts.path)
    for form in (target, decoded_path):
        if not form.isascii() or "\\" in form or any(_unsafe_char(c) for c in form):
            return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if decoded_path.startswith("//"):
        return None
    return target


def _unsafe_char(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


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


def _throttle() -> SigninThrottle:
    config = runtime().config
    limits = Limits(config.signin_user_limit, config.signin_ip_limit, config.signin_window_seconds)
    return SigninThrottle(runtime().redis, limits)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", error="")
    username = request.form.get("username", "")
    logged = username[:100]
    address = request.remote_addr or "unknown"
    throttle = _throttle()
    wait = throttle.wait(username, address)
    if wait:
        current_app.logger.warning("throttled sign-in for %r from %s", logged, address)
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins; try again in {minutes} minute{'' if minutes == 1 else 's'}."
        return render_template("login.html", error=error), 429, {"Retry-After": str(wait)}
    user = users.verify(runtime().redis, username, request.form.get("password", ""))
    if user is None:
        throttle.failed(username, address)
        current_app.logger.warning("failed sign-in for %r from %s", logged, address)
        return render_template("login.html", error=NO_MATCH), 401
    throttle.succeeded(username)
    start_session(user["username"])
    return redirect(safe_next(request.args.get("next", "")) or url_for("views.index"))


@bp.post("/logout")
def logout():
    name, sid = session.get("user"), session.get("sid")
    if name and sid:
        sessions.end(runtime().redis, name, sid)
    session.clear()
    return redirect(url_for("auth.login"))
