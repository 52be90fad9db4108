"""The API keys screen: a flow administrator lists the keys of the JSON API
(``/api/v1``), makes one (its secret is shown once, on the page that answers the
post) and revokes one — the same as ``superflow apikeys create|list|revoke``.

Only a key's first characters are ever shown again; the secret itself is not kept
(:mod:`superflow.apikeys` keeps its hash)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import apikeys
from superflow.webapp.auth import protect
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = protect(Blueprint("apikeys", __name__))

ROLE_WORDS = {
    "admin": "Everything: read, change and run flows, post events",
    "editor": "Read everything, change flows, not run them",
    "viewer": "Read only: flows, participants, reports",
    "events": "Post events only (for a website or a webinar tool)",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


def _page(status: int = 200, made: tuple[str, apikeys.ApiKey] | None = None, **extra: Any) -> Any:
    listed = apikeys.list_keys(runtime().redis)
    page = render_template("admin/apikeys.html", keys=listed, roles=ROLE_WORDS, made=made, **extra)
    return page, status, NO_STORE


def _existing(key_id: str) -> apikeys.ApiKey:
    for key in apikeys.list_keys(runtime().redis):
        if key.id == key_id:
            return key
    abort(404, description="There is no such API key; it may have been revoked already.")


@bp.get("/api-keys")
@role_required("flow_admin")
def index():
    return _page()


@bp.post("/api-keys")
@role_required("flow_admin")
def create():
    name, role = request.form.get("name", ""), request.form.get("role", "")
    if role not in ROLE_WORDS:
        return _page(400, error="Choose what the key may do.", name=name)
    try:
        made = apikeys.create(runtime().redis, name, role)
    except apikeys.ApiKeyError as exc:
        return _page(400, error=_capital(str(exc)) + ".", name=name, role=role)
    return _page(201, made=made)


@bp.get("/api-keys/<key_id>/revoke")
@role_required("flow_admin")
def confirm_revoke(key_id: str):
    return render_template("admin/apikey_revoke.html", key=_existing(key_id))


@bp.post("/api-keys/<key_id>/revoke")
@role_required("flow_admin")
def revoke(key_id: str):
    key = _existing(key_id)
    apikeys.revoke(runtime().redis, key.id)
    flash(f"The key '{key.name}' was revoked; requests with it are refused from now on.")
    return redirect(url_for("apikeys.index"))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
