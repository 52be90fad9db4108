"""The sign-in pages of the admin: ``/login`` and ``/logout``.

Failed sign-ins are counted per user name and per address
(:mod:`superflow.signin_throttle`); over the limit, sign-in is refused before the
password is checked.  After signing in the browser goes back to the page it asked
for, but only if that page is on this site (:func:`safe_next`).
"""

from __future__ import annotations

import math
import unicodedata
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for

from superflow import sessions
from superflow import users
from superflow.signin_throttle import Limits
from superflow.signin_throttle import SigninThrottle
from superflow.webapp.auth import start_session
from superflow.webapp.runtime import runtime

bp = Blueprint("auth", __name__)
NO_MATCH = "That user name and password do not match."


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


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("admin/login.html", error="")
    username = request.form.get("username", "")
    logged = username[:100]
    address = request.remote_addr or "unknown"
    throttle = _throttle()
    wait = throttle.wait(username, address)
    if wait:
        current_app.logger.warning("throttled sign-in for %r from %s", logged, address)
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins; try again in {minutes} minute{'' if minutes == 1 else 's'}."
        return render_template("admin/login.html", error=error), 429, {"Retry-After": str(wait)}
    user = users.verify(runtime().redis, username, request.form.get("password", ""))
    if user is None:
        throttle.failed(username, address)
        current_app.logger.warning("failed sign-in for %r from %s", logged, address)
        return render_template("admin/login.html", error=NO_MATCH), 401
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
