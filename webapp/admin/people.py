"""The People screen: find a person in the CRM by name or email, see their fields,
company, selections, consents, subscriptions and flows, and — as a flow
administrator — change their fields.

Every signed-in user may look (a person's page is their participations across
flows, which every role already sees flow by flow); changing CRM data is a flow
administrator's act, checked on the server.  Edits go through the CRM backend's
``update_persons`` with an idempotency key made when the form was shown, so a form
sent twice is applied once.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import people
from superflow.crm import CrmError
from superflow.runtime import Runtime
from superflow.webapp.auth import login_required
from superflow.webapp.auth import protect
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = protect(Blueprint("people", __name__))

PAGE_SIZE = 25
PURPOSES = {"emarketing": "Email marketing", "sms": "Text messages (SMS)", "store": "Storing their data"}
"""Consent purposes in a marketer's words; others are shown by their name."""
EDIT_KEY = re.compile(r"person-edit:[A-Za-z0-9_-]{10,40}")


@bp.get("/people")
@login_required
def index():
    rt = runtime()
    query = request.args.get("q", "").strip()[:200]
    try:
        number = max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        abort(400, description="page: give a page number")
    problem = ""
    found = people.Found([], 0, PAGE_SIZE, None)
    if query:
        try:
            found = people.search(rt.crm, query, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        except CrmError as exc:
            problem = f"The CRM did not answer ({exc})."
    return render_template(
        "admin/people.html",
        query=query,
        found=found,
        page=number,
        problem=problem,
        exact_only=not hasattr(rt.crm, "search_persons"),
    )


def _person_or_404(rt: Runtime, person_id: str) -> dict[str, Any]:
    try:
        return people.get(rt.crm, person_id)
    except people.PersonNotFound as exc:
        abort(404, description=str(exc))


def _page(
    rt: Runtime,
    person: dict[str, Any],
    typed: dict[str, str] | None = None,
    error: people.PersonInputError | None = None,
    edit_key: str | None = None,
    status: int = 200,
) -> Any:
    fields = people.person_fields(rt.crm)
    values = {f.key: people.shown(people.value_of(person, f)) for f in fields}
    values.update(typed or {})
    selection_names = {str(s["id"]): s["name"] for s in rt.crm.list_selections()}
    page = render_template(
        "admin/person.html",
        person=person,
        fields=fields,
        values=values,
        company_fields=people.company_fields(rt.crm),
        writable=people.can_write(rt.crm),
        error=error,
        edit_key=edit_key or people.new_edit_key(),
        selections=[
            (sid, selection_names.get(sid, f"Selection {sid}")) for sid in person.get("selections", [])
        ],
        flows=people.participations(rt, person["id"]),
        purpose_label=lambda purpose: PURPOSES.get(purpose, purpose.replace("_", " ").capitalize()),
    )
    return page, status


@bp.get("/people/<person_id>")
@login_required
def detail(person_id: str):
    rt = runtime()
    return _page(rt, _person_or_404(rt, person_id))


@bp.post("/people/<person_id>")
@role_required("flow_admin")
def edit(person_id: str):
    rt = runtime()
    person = _person_or_404(rt, person_id)
    fields = people.person_fields(rt.crm)
    current = {f.key: people.shown(people.value_of(person, f)) for f in fields}
    typed = {f.key: request.form[f.key] for f in fields if f.key in request.form}
    changed = {key: text for key, text in typed.items() if text.strip() != current[key]}
    sent_key = request.form.get("edit_key", "")
    edit_key = sent_key if EDIT_KEY.fullmatch(sent_key) else people.new_edit_key()
    try:
        changes = people.changes_from_text(fields, changed)
        diff = people.update(rt.crm, person_id, changes, edit_key)
    except people.PersonInputError as exc:
        return _page(rt, person, typed, exc, edit_key, status=422)
    except CrmError as exc:
        error = people.PersonInputError("(crm)", f"The CRM refused the change: {exc}")
        return _page(rt, person, typed, error, edit_key, status=422)
    labels = {f.key: f.label for f in fields}
    now = people.get(rt.crm, person_id)
    if any(people.value_of(now, f) != changes[f.key] for f in fields if f.key in changes):
        flash(
            "This form had been saved already, so it was not saved again: the page shows what the CRM "
            "holds now. Make your change again.",
            "error",
        )
    elif diff:
        flash("Saved: " + ", ".join(labels.get(key, key) for key in diff) + ".")
    else:
        flash("Nothing was changed.")
    return redirect(url_for("people.detail", person_id=person_id))
