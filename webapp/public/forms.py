"""Hosted forms: definitions (see :mod:`superflow.forms`) shown and posted at ``/forms/<id>``.

- ``GET /forms/<id>``: the form as a page.
- ``POST /forms/<id>``: a browser's post (form-encoded: the page again with the
  errors by the fields, or "Thanks — check your inbox to confirm") or an
  integrator's (JSON: ``200 {"status": "ok", "message"}``, or ``400 {"errors":
  [{"field", "message"}]}``).  The answer is the same whether or not the CRM knew
  the address, so a form tells nobody who is in the CRM.
- ``GET /forms/<id>/confirm/<token>``: the emailed link's page — what was answered
  and a Confirm button; opening it changes nothing (mail scanners open links).
  ``POST`` to the same address confirms (once; the token is the proof, there is no
  session and no CSRF token).

A post proves nothing about who sent it (double opt-in, see
:mod:`superflow.form_confirmations`).  A new address: the person is created with the
submitted fields and added to the form's selection and project at once.  A known address:
nothing in the CRM changes.  Either way one confirmation email goes out, and on
confirmation the known person's fields are changed, and for everyone the consents
and subscriptions are granted (``legal_basis`` "form <id>, confirmed by email").
``form.submitted`` (``data={"form_id", "fields", "created", "confirmed"}``) is
emitted at once for a new person whose answer gives no consent or subscription,
else on confirmation.

Spam protection: a hidden field (``website_url``) that people leave empty — a post
with it filled in is answered as a success and nothing else happens; and at most
``rate_limit`` posts per hour from one address (IP) to one form (Redis counter
``sf:form-rate:<id>:<ip>:<hour>``), then 429 with ``Retry-After``.  What happened is
counted in ``sf:form:<id>:stats`` (``submitted``, ``created``, ``invalid``, ``spam``,
``rate_limited``, ``confirmations_sent``, ``confirmations_limited``, ``confirmed``).
Behind a reverse proxy the app must see the client's address (werkzeug's
``ProxyFix``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import abort
from flask import jsonify
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import form_confirmations
from superflow import forms
from superflow import keys
from superflow.channels import ChannelError
from superflow.channels import PermanentFailure
from superflow.counters import Counters
from superflow.crm import CrmError
from superflow.crm import person_value
from superflow.events import Event
from superflow.runtime import Runtime
from superflow.webapp.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("forms", __name__)

WINDOW = 3600
CHECK_INBOX = "Thanks — check your inbox to confirm"
# The runtime's email transport is one object for the whole web process, and an SMTP
# connection is not safe to share between threads: confirmation emails take turns.
_SENDING = threading.Lock()


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
    page = render_template("public/error.html", title="This form cannot be sent", cause=message, what="form")
    return page, status, headers or {}


def _known_form(rt: Runtime, form_id: str) -> dict[str, Any]:
    """The form, or the request ends with a 404 that says so (as JSON or as a page,
    like every answer of a form)."""
    try:
        return forms.get(rt.redis, form_id)
    except forms.FormNotFound:
        abort(make_response(_answer_error(404, f"there is no form {form_id!r}")))


@bp.get("/forms/<form_id>")
def show(form_id: str):
    form = _known_form(runtime(), form_id)
    return render_template("public/form.html", form=form, values={}, errors={}, honeypot=forms.HONEYPOT)


def rate_limited(rt: Runtime, form: Mapping[str, Any], address: str) -> int:
    """Seconds to wait when this address has used up the form's posts for the hour; 0 if not."""
    now = time.time()
    window = int(now // WINDOW)
    key = keys.form_rate(form["id"], address, str(window))
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
    form = _known_form(rt, form_id)
    wait = rate_limited(rt, form, request.remote_addr or "unknown")
    if wait:
        Counters.count_form(rt.redis, form_id, "rate_limited")
        message = f"too many posts to this form from your address; try again in {_minutes(wait)}"
        return _answer_error(429, message, headers={"Retry-After": str(wait)})
    if request.is_json and not isinstance(request.get_json(silent=True), dict):
        return _answer_error(400, "the body must be a JSON object of the form's fields")
    values = _values()
    if str(values.get(forms.HONEYPOT) or "").strip():
        Counters.count_form(rt.redis, form_id, "spam")
        return _done(rt, form)
    clean, errors = forms.check_submission(form, values)
    if errors:
        Counters.count_form(rt.redis, form_id, "invalid")
        if _wants_json():
            return jsonify({"errors": errors}), 400
        shown = {e["field"]: e["message"] for e in errors}
        page = render_template(
            "public/form.html", form=form, values=values, errors=shown, honeypot=forms.HONEYPOT
        )
        return page, 400
    try:
        receive(rt, form, clean)
    except CrmError as exc:
        log.warning("form %s: could not save the person: %s", form_id, exc)
        return _answer_error(
            503, "your answer could not be saved just now; please try again in a few minutes"
        )
    except ChannelError as exc:
        log.warning("form %s: the confirmation email could not be sent: %s", form_id, exc)
        return _answer_error(
            503, "the confirmation email could not be sent just now; please try again in a few minutes"
        )
    Counters.count_form(rt.redis, form_id, "submitted")
    return _done(rt, form)


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _done(rt: Runtime, form: Mapping[str, Any]):
    """The same answer for every good post, whether the CRM knew the address or not:
    the form's own page of the marketer's site when it names one, else ours."""
    if _wants_json():
        return jsonify({"status": "ok", "message": f"{CHECK_INBOX}."}), 200
    if form.get("redirect_url"):
        return redirect(form["redirect_url"], 303)
    return render_template(
        "public/form.html",
        form=form,
        done=True,
        check_inbox=CHECK_INBOX,
        lifetime=_lifetime(rt),
        values={},
        errors={},
        honeypot=forms.HONEYPOT,
    )


def _lifetime(rt: Runtime) -> str:
    hours = rt.config.form_confirm_hours
    return "1 hour" if hours == 1 else f"{hours:g} hours"


def receive(rt: Runtime, form: Mapping[str, Any], clean: Mapping[str, Any]) -> None:
    """What a good post does before anyone confirms it.

    A new address: the person is created with the submitted fields and added to the
    form's selection and project; ``form.submitted`` is emitted at once unless consents or
    subscriptions wait for the confirmation.  A known address: nothing in the CRM
    changes.  Either way one confirmation email goes out (within the per-address
    limit) and holds the rest."""
    crm = rt.crm
    changes = forms.person_changes(form, clean)
    email = changes["email"]
    consents = forms.consents_given(form, clean)
    subscriptions = forms.subscriptions_given(form, clean)
    person = crm.find_person_by_email(email)
    if person is None:
        digest = hashlib.blake2b(email.lower().encode(), digest_size=8).hexdigest()
        key = f"form:{form['id']}:{digest}:{int(time.time() // WINDOW)}"
        person = crm.create_person(idempotency_key=key, **changes)
        person_id = str(person["id"])
        if form.get("selection"):
            crm.add_to_selection(str(form["selection"]), [person_id])
        if form.get("project"):
            crm.add_to_project(str(form["project"]), [person_id], idempotency_key=f"{key}:project")
        waits = bool(consents or subscriptions)
        if not waits:
            _emit(rt, form, person_id, clean, created=True, confirmed=False)
        Counters.count_form(rt.redis, form["id"], "created")
        pending = form_confirmations.Pending(
            form_id=form["id"],
            person_id=person_id,
            created=True,
            fields=dict(clean),
            consents=consents,
            subscriptions=subscriptions,
            emit=waits,
        )
    else:
        pending = form_confirmations.Pending(
            form_id=form["id"],
            person_id=str(person["id"]),
            created=False,
            fields=dict(clean),
            changes={k: v for k, v in changes.items() if k != "email"},
            consents=consents,
            subscriptions=subscriptions,
            selection=str(form["selection"]) if form.get("selection") else None,
            project=str(form["project"]) if form.get("project") else None,
        )
    send_confirmation(rt, form, pending, str(person.get("email") or email).strip())


def send_confirmation(
    rt: Runtime, form: Mapping[str, Any], pending: form_confirmations.Pending, to: str
) -> None:
    """Keep the answer and email its link, unless the address had its share of
    confirmation emails this hour (then nothing is kept or sent)."""
    conn, config = rt.redis, rt.config
    now = rt.clock.now()
    if not form_confirmations.may_send(conn, to, config.form_confirm_per_hour, now):
        Counters.count_form(conn, form["id"], "confirmations_limited")
        return
    token = form_confirmations.store(conn, config.secret_key, pending, config.form_confirm_hours, now)
    path = url_for("forms.confirm_page", form_id=form["id"], token=token)
    sender = config.form_confirm_from or config.setting("notify_from", form_confirmations.DEFAULT_FROM)
    email = form_confirmations.message(
        form, to, config.base_url.rstrip("/") + path, config.form_confirm_hours, sender
    )
    try:
        with _SENDING:
            [result] = rt.email.send_many([(email, f"form-confirm:{token.split('.', 1)[0]}")])
    except ChannelError:
        form_confirmations.forget(conn, token)
        raise
    if isinstance(result, PermanentFailure):
        log.info("form %s: the confirmation email was refused: %s", form["id"], result.reason)
        form_confirmations.forget(conn, token)
        return
    Counters.count_form(conn, form["id"], "confirmations_sent")


def _emit(
    rt: Runtime,
    form: Mapping[str, Any],
    person_id: str,
    fields: Mapping[str, Any],
    created: bool,
    confirmed: bool,
) -> None:
    data = {"form_id": form["id"], "fields": dict(fields), "created": created, "confirmed": confirmed}
    rt.emit([Event("form.submitted", person_id, data, source=f"form:{form['id']}")])


# -- the confirmation link -------------------------------------------------------

PRIVATE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def _confirm_answer(form: Mapping[str, Any] | None, state: str, status: int = 200, **extra: Any):
    page = render_template("public/form_confirm.html", form=form, state=state, **extra)
    return page, status, PRIVATE


def _opened(rt: Runtime, form_id: str, token: str):
    """The form and the pending answer behind a link, or the page that says why not."""
    try:
        form = forms.get(rt.redis, form_id)
    except forms.FormNotFound:
        return None, None, _confirm_answer(None, "gone", 410)
    try:
        pending = form_confirmations.open_link(rt.redis, rt.config.secret_key, form_id, token, rt.clock.now())
    except form_confirmations.LinkInvalid as exc:
        state = "expired" if exc.status == 410 else "invalid"
        return form, None, _confirm_answer(form, state, exc.status, cause=exc.cause)
    return form, pending, None


@bp.get("/forms/<form_id>/confirm/<token>")
def confirm_page(form_id: str, token: str):
    """Shows what will be saved and a button; never applies anything (mail scanners
    open links)."""
    rt = runtime()
    form, pending, problem = _opened(rt, form_id, token)
    if problem:
        return problem
    if pending.confirmed_at is not None:
        return _confirm_answer(form, "already")
    return _confirm_answer(form, "ask", summary=_summary(form, pending), token=token)


@bp.post("/forms/<form_id>/confirm/<token>")
def confirm(form_id: str, token: str):
    rt = runtime()
    form, pending, problem = _opened(rt, form_id, token)
    if problem:
        return problem
    try:
        if pending.confirmed_at is not None or not form_confirmations.claim(rt.redis, token, rt.clock.now()):
            return _confirm_answer(form, "already")
    except form_confirmations.LinkInvalid as exc:
        return _confirm_answer(form, "expired", exc.status, cause=exc.cause)
    try:
        found = apply_confirmed(rt, form, pending)
    except CrmError as exc:
        form_confirmations.release(rt.redis, token)
        log.warning("form %s: could not apply a confirmed answer: %s", form_id, exc)
        return _confirm_answer(form, "failed", 503, token=token)
    except BaseException:
        form_confirmations.release(rt.redis, token)
        raise
    form_confirmations.applied(rt.redis, token)
    if not found:
        return _confirm_answer(
            form, "expired", 410, cause="we no longer have the details this answer was for"
        )
    Counters.count_form(rt.redis, form_id, "confirmed")
    return _confirm_answer(form, "confirmed")


def apply_confirmed(rt: Runtime, form: Mapping[str, Any], pending: form_confirmations.Pending) -> bool:
    """Write the confirmed answer: changed fields, consents, subscriptions and the
    selection, then ``form.submitted`` if it waited.  False when the person is no
    longer in the CRM."""
    crm = rt.crm
    person = crm.get_person(pending.person_id)
    if person is None:
        return False
    person_id, nonce = str(person["id"]), pending.token.split(".", 1)[0]
    update = {k: v for k, v in pending.changes.items() if person_value(person, k) != v}
    if update:
        crm.update_persons([(person_id, update, f"form-confirm:{nonce}")])
    basis = f"form {form['id']}, confirmed by email"
    for purpose in pending.consents:
        crm.set_consent(person_id, purpose, True, legal_basis=basis)
    for name in pending.subscriptions:
        crm.set_subscription(person_id, name, True)
    if pending.selection:
        crm.add_to_selection(pending.selection, [person_id])
    if pending.project:
        crm.add_to_project(pending.project, [person_id], idempotency_key=f"form-confirm:{nonce}:project")
    if pending.emit:
        _emit(rt, form, person_id, pending.fields, created=pending.created, confirmed=True)
    return True


def _summary(form: Mapping[str, Any], pending: form_confirmations.Pending) -> list[tuple[str, str]]:
    """The answer as the visitor typed it: (label, value) of each filled-in field."""
    rows = []
    for f in form["fields"]:
        if f["type"] == "hidden" or f["name"] not in pending.fields:
            continue
        value = pending.fields[f["name"]]
        if f["type"] == "checkbox":
            if not value:
                continue
            value = "Yes"
        rows.append((f["label"], str(value)))
    return rows
