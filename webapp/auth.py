"""Signing in to the admin screens: sessions, roles and CSRF protection.

The admin is for people; the JSON API (``/api/v1``) has keys of its own, and a
session cookie never authorises it.  Every state-changing request to the admin's
own pages carries the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for

from superflow import users
from superflow.webapp.runtime import runtime

bp = Blueprint("auth", __name__)

PROTECTED_BLUEPRINTS = {"auth", "views", "actions", "participants", "accounts", "designer"}
SESSION_HOURS = 8


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


def _load_user() -> None:
    name = session.get("user")
    g.user = users.get(runtime().redis, name) if name else None


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.blueprint not in PROTECTED_BLUEPRINTS:
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(
            400,
            description="The form has expired or did not come from this site: reload the page and try again.",
        )


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Checked on the server for every action, not only hidden in the page."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user["role"] not in roles:
                abort(403, description=f"This needs the role {' or '.join(roles)}.")
            return view(*args, **kwargs)

        return wrapped

    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    if request.method == "POST":
        user = users.verify(
            runtime().redis, request.form.get("username", ""), request.form.get("password", "")
        )
        if user is not None:
            session.clear()
            session.permanent = True
            session["user"] = user["username"]
            target = request.args.get("next", "")
            return redirect(
                target if target.startswith("/") and not target.startswith("//") else url_for("views.index")
            )
        error = "That user name and password do not match."
        current_app.logger.warning(
            "failed sign-in for %r from %s", request.form.get("username", ""), request.remote_addr
        )
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
