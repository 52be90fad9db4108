"""Signing in through the admin's real sign-in form, CSRF token included.

The one place tests read a page's CSRF token (``csrf_token``) and fill in the sign-in
form (``sign_in``), for a Flask test client and a ``requests`` session alike."""

from __future__ import annotations

import re
from typing import Any

import requests

from superflow import users
from superflow.runtime import Runtime

PASSWORD = "correct horse battery"
"""The password of the users ``sf_signed_in`` and ``SignedInSession`` create."""

_CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    """The CSRF token the forms of this HTML page carry."""
    found = _CSRF_TOKEN.search(page)
    if found is None:
        raise AssertionError(f"the page has no csrf_token field:\n{page[:2000]}")
    return found.group(1)


def sign_in(browser: Any, username: str, password: str = PASSWORD, base_url: str = "") -> str:
    """Sign ``browser`` in through the form at ``/login``; the CSRF token of the page it
    led to (for the forms and JSON calls that follow).

    ``browser`` is a Flask test client (``base_url`` empty) or a ``requests`` session
    (``base_url`` the site's address); either follows the redirect after signing in."""
    on_flask = hasattr(browser, "application")
    options: dict[str, Any] = {"follow_redirects": True} if on_flask else {"timeout": 10}
    form = {
        "username": username,
        "password": password,
        "csrf_token": csrf_token(browser.get(base_url + "/login", **options).text),
    }
    home = browser.post(base_url + "/login", data=form, **options)
    if home.status_code != 200 or 'name="password"' in home.text:
        raise AssertionError(f"signing in as {username} failed: {home.status_code}\n{home.text[:2000]}")
    return csrf_token(home.text)


class SignedInSession(requests.Session):
    """A ``requests`` session signed in as a new user of ``role`` (``<role>-user``) that
    sends the CSRF token in ``X-CSRF-Token`` as the designer does."""

    def __init__(self, rt: Runtime, base_url: str, role: str) -> None:
        super().__init__()
        self.base = base_url
        users.create(rt.redis, f"{role}-user", PASSWORD, role)
        self.headers["X-CSRF-Token"] = sign_in(self, f"{role}-user", base_url=base_url)

    def call(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """GET ``path`` or, with a JSON ``body`` or ``files``, POST it."""
        if body is None and "files" not in kwargs:
            return self.get(self.base + path, timeout=10, **kwargs)
        return self.post(self.base + path, json=body, timeout=10, **kwargs)
