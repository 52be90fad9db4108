"""The sign-in pages of the admin: ``/login`` and ``/logout``, and signing in through an auth
provider (``/login/<provider>`` sends the browser there, ``/login/<provider>/callback`` is
where it comes back).

Failed sign-ins are counted per user name and per address
(:mod:`superflow.signin_throttle`); over the limit, sign-in is refused before the
password is checked.  A provider's sign-in attempt (its ``state``, and what the provider
keeps for it) lives in the session cookie between the two steps and is used once.  After
signing in the browser goes back to the page it asked for, but only if that page is on this
site (:func:`safe_next`).

Inside a CRM's frame the provider's sign-in runs in a pop-up (``?popup=1``), whose cookie
is not the frame's; the callback then also gives a one-time code
(:mod:`superflow.signin_handoff`) that the pop-up hands to the frame, and the frame posts
it to ``/login/handoff`` to get a session of its own.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import unicodedata
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for

from superflow import sessions
from superflow import signin_handoff
from superflow import users
from superflow.auth_providers import AuthProvider
from superflow.auth_providers import SignInRefused
from superflow.signin_throttle import Limits
from superflow.signin_throttle import SigninThrottle
from superflow.webapp.auth import start_session
from superflow.webapp.runtime import runtime

bp = Blueprint("auth", __name__)
NO_MATCH = "That user name and password do not match."
HANDOFF_EXPIRED = "This sign-in has expired: sign in again."
HANDOFF_CODE = re.compile(r"[A-Za-z0-9_-]{32,100}")


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


def _throttle() -> SigninThrottle:
    config = runtime().config
    limits = Limits(config.signin_user_limit, config.signin_ip_limit, config.signin_window_seconds)
    return SigninThrottle(runtime().redis, limits)


def providers() -> dict[str, AuthProvider]:
    """The auth providers plugins gave, by name (collected when the app was built)."""
    return current_app.extensions["superflow_auth_providers"]


def _page(
    error: str = "", status: int = 200, headers: dict[str, str] | None = None, next_path: str = ""
) -> Any:
    """The sign-in page; after signing in the browser goes to ``next_path`` or the page's
    own ``?next=``."""
    page = render_template(
        "admin/login.html",
        error=error,
        providers=list(providers().values()),
        password_signin=runtime().config.password_signin,
        next=safe_next(next_path or request.args.get("next", "")) or "",
    )
    return page, status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return _page()
    if not runtime().config.password_signin:
        return _page("Signing in with a password is turned off here: use the button above.", 403)
    username = request.form.get("username", "")
    logged = username[:100]
    address = request.remote_addr or "unknown"
    throttle = _throttle()
    wait = throttle.wait(username, address)
    if wait:
        current_app.logger.warning("throttled sign-in for %r from %s", logged, address)
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins; try again in {minutes} minute{'' if minutes == 1 else 's'}."
        return _page(error, 429, {"Retry-After": str(wait)})
    user = users.verify(runtime().redis, username, request.form.get("password", ""))
    if user is None:
        throttle.failed(username, address)
        current_app.logger.warning("failed sign-in for %r from %s", logged, address)
        return _page(NO_MATCH, 401)
    throttle.succeeded(username)
    start_session(user["username"])
    return redirect(safe_next(request.args.get("next", "")) or url_for("views.index"))


def _provider(name: str) -> AuthProvider:
    provider = providers().get(name)
    if provider is None:
        abort(404, description=f"There is no sign-in {name[:50]!r} here; go back to the sign-in page.")
    return provider


def _callback_url(name: str) -> str:
    return runtime().config.base_url.rstrip("/") + url_for("auth.provider_callback", name=name)


@bp.get("/login/<name>")
def provider_begin(name: str):
    provider = _provider(name)
    attempt = {"state": secrets.token_urlsafe(32)}
    try:
        target = provider.begin(_callback_url(name), attempt)
    except SignInRefused as exc:
        current_app.logger.warning("sign-in with %s could not start: %s", name, exc)
        return _page(str(exc), exc.status)
    session["signin"] = {
        **attempt,
        "provider": name,
        "next": safe_next(request.args.get("next", "")) or "",
        "popup": request.args.get("popup") == "1",
    }
    return redirect(target)


@bp.get("/login/<name>/callback")
def provider_callback(name: str):
    provider = _provider(name)
    attempt = session.pop("signin", None)
    sent = request.args.get("state", "")
    fits = (
        isinstance(attempt, dict)
        and attempt.get("provider") == name
        and hmac.compare_digest(sent.encode("utf-8"), str(attempt.get("state", "")).encode("utf-8"))
    )
    if not fits:
        return _page(
            "This sign-in did not start on this browser, or was used already: start signing in again.", 400
        )
    try:
        identity = provider.finish(_callback_url(name), request.args, attempt)
        user = users.signed_in_by_provider(
            runtime().redis,
            name,
            provider.title,
            identity.subject,
            name=identity.name,
            email=identity.email,
            role=identity.role,
            reason=identity.reason,
        )
    except SignInRefused as exc:
        current_app.logger.warning("sign-in with %s refused: %s", name, exc)
        return _page(str(exc), exc.status, next_path=attempt.get("next", ""))
    except users.UserDisabled:
        current_app.logger.warning("sign-in with %s refused: the user is disabled", name)
        return _page(
            "Your superflow account is disabled: ask a superflow flow administrator to enable it.",
            403,
            next_path=attempt.get("next", ""),
        )
    start_session(user["username"])
    target = attempt.get("next") or url_for("views.index")
    if attempt.get("popup"):
        code = signin_handoff.give(runtime().redis, user["username"], target)
        return render_template("admin/signin_handoff.html", code=code, next=target)
    return redirect(target)


@bp.post("/login/handoff")
def handoff():
    """Sign in the browser that shows this page (a CRM's frame) with the code its pop-up
    handed it.  The CSRF check of the ``auth`` pages comes first: a code is only good
    in a post from a page of this browser, and only once."""
    code = request.form.get("code", "")
    taken = signin_handoff.take(runtime().redis, code) if HANDOFF_CODE.fullmatch(code) else None
    if taken is None:
        return _page(HANDOFF_EXPIRED, 400, next_path=request.form.get("next", ""))
    user = users.get(runtime().redis, taken.username)
    if user is None or not users.active(user):
        current_app.logger.warning("hand-off sign-in refused: %r is disabled or gone", taken.username)
        return _page(
            "Your superflow account is disabled: ask a superflow flow administrator to enable it.",
            403,
            next_path=taken.next,
        )
    start_session(user["username"])
    return redirect(safe_next(taken.next) or url_for("views.index"))


@bp.post("/logout")
def logout():
    name, sid = session.get("user"), session.get("sid")
    if name and sid:
        sessions.end(runtime().redis, name, sid)
    session.clear()
    return redirect(url_for("auth.login"))
