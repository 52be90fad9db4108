"""Hosted forms: definitions (see :mod:`superflow.forms`) shown and posted at ``/forms/<id>``.

- ``GET /forms/<id>``: the form as a page.
- ``POST /forms/<id>``: a browser's post (form-encoded: the page again with the
  errors by the fields, or the form's message) or an integrator's (JSON: ``200
  {"status": "ok", "message"}``, or ``400 {"errors": [{"field", "message"}]}``).
  A good post creates the person in the CRM (or updates the one with that email
  address), grants the form's consents and subscriptions, adds the person to its
  selection and emits ``form.submitted`` (``data={"form_id", "fields", "created"}``).

Spam protection: a hidden field (``website_url``) that people leave empty — a post
with it filled in is answered as a success and nothing else happens; and at most
``rate_limit`` posts per hour from one address (IP) to one form (Redis counter
``sf:form-rate:<id>:<ip>:<hour>``), then 429 with ``Retry-After``.  What happened is
counted in ``sf:form:<id>:stats`` (``submitted``, ``created``, ``invalid``, ``spam``,
``rate_limited``).  Behind a reverse proxy the app must see the client's address
(werkzeug's ``ProxyFix``).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from superflow import forms
from superflow.crm import CrmError, person_value
from superflow.events import Event
from superflow.runtime import Runtime
from superflow.webapp.runtime import runtime
from superflow.webapp.tracking import crm_call

log = logging.getLogger(__name__)

bp = Blueprint("forms", __name__)

WINDOW = 3600


def stats_key(form_id: str) -> str:
    return f"sf:form:{form_id}:stats"


@bp.after_request
def allow_other_sites(response):
    """Forms are posted from marketers' own sites too; no cookies are involved."""
    if request.path.startswith("/forms/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return response


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _answer_error(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None):
    if _wants_json():
        return jsonify({"errors": [{"field": field, "message": message}]}), status, headers or {}
    page = render_template("error.html", title="This form cannot be sent", cause=message, what="form")
    return page, status, headers or {}


@bp.get("/forms/<form_id>")
def show(form_id: str):
    rt = runtime()
    try:
        form = forms.get(rt.redis, form_id)
    except forms.FormNotFound:
        return _answer_error(404, f"there is no form {form_id!r}")
    return render_template("form.html", form=form, values={}, errors={}, honeypot=forms.HONEYPOT)


def rate_limited(rt: Runtime, form: Mapping[str, Any], address: str) -> int:
    """Seconds to wait when this address has used up the form's posts for the hour; 0 if not."""
    now = time.time()
    window = int(now // WINDOW)
    key = f"sf:form-rate:{form['id']}:{address}:{window}"
    pipe = rt.redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, WINDOW + 60)
    count = pipe.execute()[0]
    if count <= form["rate_limit"]:
        return 0
    return max(1, int((window + 1) * WINDOW - now) + 1)


def _values() -> Mapping[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form


@bp.post("/forms/<form_id>")
def submit(form_id: str):
    rt = runtime()
    try:
        form = forms.get(rt.redis, form_id)
    except forms.FormNotFound:
        return _answer_error(404, f"there is no form {form_id!r}")
    wait = rate_limited(rt, form, request.remote_addr or "unknown")
    if wait:
        rt.redis.hincrby(stats_key(form_id), "rate_limited", 1)
        message = f"too many posts to this form from your address; try again in {_minutes(wait)}"
        return _answer_error(429, message, headers={"Retry-After": str(wait)})
    if request.is_json and not isinstance(request.get_json(silent=True), dict):
        return _answer_error(400, "the body must be a JSON object of the form's fields")
    values = _values()
    if str(values.get(forms.HONEYPOT) or "").strip():
        rt.redis.hincrby(stats_key(form_id), "spam", 1)
        return _done(form)
    clean, errors = forms.check_submission(form, values)
    if errors:
        rt.redis.hincrby(stats_key(form_id), "invalid", 1)
        if _wants_json():
            return jsonify({"errors": errors}), 400
        shown = {e["field"]: e["message"] for e in errors}
        page = render_template("form.html", form=form, values=values, errors=shown, honeypot=forms.HONEYPOT)
        return page, 400
    try:
        person_id, created = save_person(rt, form, clean)
    except CrmError as exc:
        log.warning("form %s: could not save the person: %s", form_id, exc)
        return _answer_error(
            503, "your answer could not be saved just now; please try again in a few minutes"
        )
    rt.emit(
        [
            Event(
                "form.submitted",
                person_id,
                {"form_id": form["id"], "fields": clean, "created": created},
                source=f"form:{form['id']}",
            )
        ]
    )
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hincrby(stats_key(form_id), "submitted", 1)
    if created:
        pipe.hincrby(stats_key(form_id), "created", 1)
    pipe.execute()
    return _done(form)


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _done(form: Mapping[str, Any]):
    if _wants_json():
        return jsonify({"status": "ok", "message": form["success_message"]}), 200
    return render_template("form.html", form=form, done=True, values={}, errors={}, honeypot=forms.HONEYPOT)


def save_person(rt: Runtime, form: Mapping[str, Any], clean: Mapping[str, Any]) -> tuple[str, bool]:
    """Create the person with the submitted email address, or update the one the CRM
    has; grant the consents and subscriptions, add to the selection.  Returns the
    person's id and whether it was created."""
    crm = rt.crm
    changes = forms.person_changes(form, clean)
    email = changes["email"]
    person = crm_call(crm, "find_person_by_email")(email)
    created = person is None
    if person is None:
        digest = hashlib.blake2b(email.lower().encode(), digest_size=8).hexdigest()
        key = f"form:{form['id']}:{digest}:{int(time.time() // WINDOW)}"
        person = crm_call(crm, "create_person")(idempotency_key=key, **changes)
    else:
        update = {k: v for k, v in changes.items() if k != "email" and person_value(person, k) != v}
        if update:
            crm.update_persons([(str(person["id"]), update, f"form:{form['id']}:{uuid.uuid4().hex}")])
    person_id = str(person["id"])
    for purpose in forms.consents_given(form, clean):
        crm_call(crm, "set_consent")(person_id, purpose, True, legal_basis=f"form {form['id']}")
    for name in form["subscriptions"]:
        crm_call(crm, "set_subscription")(person_id, name, True)
    if form.get("selection"):
        crm.add_to_selection(str(form["selection"]), [person_id])
    return person_id, created
