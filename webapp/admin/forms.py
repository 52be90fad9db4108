"""The Forms screen: the hosted forms (:mod:`superflow.forms`) listed, built, edited
and deleted in the admin — the same definitions ``superflow forms create`` takes as
JSON files.

Flow administrators and content editors build forms (they are content); viewers
look.  Every save goes through :class:`superflow.forms.FormDefinition` with the
CRM's person fields, and its errors are shown beside the field they are about.  A
form that a flow (not ended) names cannot be deleted.  Each form's page gives its
hosted address and an HTML snippet for the marketer's own site: a plain ``<form>``
that posts to the hosted address (public form posts carry no session and no CSRF
token; :mod:`superflow.webapp.public.forms` guards them against spam instead).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import flows
from superflow import form_uses
from superflow import forms
from superflow.counters import Counters
from superflow.runtime import Runtime
from superflow.webapp.auth import login_required
from superflow.webapp.auth import protect
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = protect(Blueprint("form_admin", __name__))

BUILD = ("flow_admin", "content_editor")
TYPE_WORDS = {
    "text": "Text",
    "email": "Email address",
    "tel": "Phone number",
    "textarea": "Longer text",
    "select": "Drop-down list",
    "checkbox": "Checkbox",
    "number": "Number",
    "date": "Date",
    "hidden": "Hidden value",
}
ROW = re.compile(r"^fields-(\d{1,3})-label$")
BLANK_FIELD = {"name": "", "label": "", "type": "text", "required": False, "maps_to": None, "choices": []}
STARTER = {
    "name": "",
    "title": "",
    "description": "",
    "fields": [
        {
            "name": "email",
            "label": "Email",
            "type": "email",
            "required": True,
            "maps_to": "email",
            "choices": [],
        },
        {
            "name": "first_name",
            "label": "First name",
            "type": "text",
            "required": False,
            "maps_to": "first_name",
        },
    ],
    "consents": [],
    "subscriptions": [],
    "selection": None,
    "project": None,
    "success_message": "Thank you! We have received your answer.",
    "redirect_url": None,
    "submit_label": "Send",
}
MARSHMALLOW_WORDS = {
    "Missing data for required field.": "This is required.",
    "Shorter than minimum length 1.": "This is required.",
    "Field may not be null.": "This is required.",
    "Not a valid integer.": "Enter a whole number.",
    "Length must be between 1 and 50.": "Give the form at least one field (and at most 50).",
}


def may_build() -> bool:
    return g.user["role"] in BUILD


def _existing(rt: Runtime, form_id: str) -> dict[str, Any]:
    try:
        return forms.get(rt.redis, form_id)
    except forms.FormNotFound:
        abort(404, description=f"There is no form {form_id!r}; it may have been deleted.")


def hosted_url(rt: Runtime, form_id: str) -> str:
    return rt.config.base_url.rstrip("/") + url_for("forms.show", form_id=form_id)


@bp.get("/site-forms")
@login_required
def index():
    rt = runtime()
    listed = forms.list_forms(rt.redis)
    totals = Counters(rt.redis).form_totals([f["id"] for f in listed])
    used = flows_by_form(rt)
    rows = [
        {
            "form": f,
            "submitted": totals.get(f["id"], {}).get("submitted", 0),
            "flows": used.get(f["id"], []),
            "url": hosted_url(rt, f["id"]),
        }
        for f in listed
    ]
    return render_template("admin/forms.html", rows=rows, may_build=may_build())


@bp.get("/site-forms/new")
@role_required(*BUILD)
def new():
    return _builder(runtime(), STARTER, None)


@bp.post("/site-forms/new")
@role_required(*BUILD)
def create():
    rt = runtime()
    doc = read_builder(request.form)
    try:
        made = forms.create(rt.redis, doc, rt.crm.list_fields())
    except forms.FormInvalid as exc:
        return _builder(rt, doc, None, exc.messages, 400)
    flash(f"The form '{made['name']}' was saved. Put it on your site with the snippet below.")
    return redirect(url_for("form_admin.edit", form_id=made["id"]))


@bp.get("/site-forms/<form_id>")
@login_required
def edit(form_id: str):
    rt = runtime()
    return _builder(rt, _existing(rt, form_id), form_id)


@bp.post("/site-forms/<form_id>")
@role_required(*BUILD)
def update(form_id: str):
    rt = runtime()
    current = _existing(rt, form_id)
    doc = _kept(current, read_builder(request.form))
    try:
        saved = forms.update(rt.redis, form_id, doc, rt.crm.list_fields())
    except forms.FormInvalid as exc:
        return _builder(rt, {**doc, "id": form_id}, form_id, exc.messages, 400)
    flash(f"The form '{saved['name']}' was saved.")
    return redirect(url_for("form_admin.edit", form_id=form_id))


@bp.get("/site-forms/<form_id>/delete")
@role_required(*BUILD)
def confirm_delete(form_id: str):
    rt = runtime()
    form = _existing(rt, form_id)
    using = flows_by_form(rt).get(form_id, [])
    return render_template("admin/form_delete.html", form=form, using=using)


@bp.post("/site-forms/<form_id>/delete")
@role_required(*BUILD)
def delete(form_id: str):
    rt = runtime()
    form = _existing(rt, form_id)
    using = flows_by_form(rt).get(form_id, [])
    if using:
        names = ", ".join(f"'{f['name']}'" for f in using)
        flash(f"The form '{form['name']}' is used by {names}; change those flows first.", "error")
        return redirect(url_for("form_admin.confirm_delete", form_id=form_id))
    forms.delete(rt.redis, form_id)
    flash(f"The form '{form['name']}' was deleted; its address no longer takes answers.")
    return redirect(url_for("form_admin.index"))


def flows_by_form(rt: Runtime) -> dict[str, list[dict[str, Any]]]:
    """Form id → the flows (``id``, ``name``, ``status``) that name it, ended flows
    left out (they will never run again)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in flows.list_flows(rt):
        if row["status"] == "ended":
            continue
        with contextlib.suppress(Exception):  # a flow that no longer loads names nothing
            flow = flows.get(rt, row["id"])
            for form_id in dict.fromkeys(use.form_id for use in form_uses.uses(flow, rt.registry)):
                found.setdefault(form_id, []).append(
                    {"id": row["id"], "name": row["name"], "status": row["status"]}
                )
    return found


# -- the builder -----------------------------------------------------------------


def _builder(
    rt: Runtime,
    doc: Mapping[str, Any],
    form_id: str | None,
    messages: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Any:
    person_fields = [f for f in rt.crm.list_fields() if f.entity == "person" and f.writable]
    errors = shown_errors(messages or {}, doc)
    page = render_template(
        "admin/form_builder.html",
        doc=doc,
        form_id=form_id,
        errors=errors,
        types=TYPE_WORDS,
        person_fields=person_fields,
        selections=_listed(rt, "list_selections"),
        projects=_listed(rt, "list_projects"),
        blank=BLANK_FIELD,
        may_build=may_build(),
        hosted=hosted_url(rt, form_id) if form_id else "",
        snippet=embed_snippet(rt, doc) if form_id else "",
    )
    return page, status


def _listed(rt: Runtime, call: str) -> list[dict[str, str]]:
    """The CRM's selections or projects as ``{id, name}``; none when the CRM cannot list them."""
    lister = getattr(rt.crm, call, None)
    try:
        found = lister() if lister is not None else []
    except Exception:  # any CRM backend's failure: the builder still opens
        found = []
    return [{"id": str(item["id"]), "name": str(item.get("name") or item["id"])} for item in found]


def _words_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]
    if slug and not slug[0].isalpha():
        slug = f"f_{slug}"[:40]
    return slug


def read_builder(posted: Mapping[str, Any]) -> dict[str, Any]:
    """The builder's post as a form definition: the page-level settings, and the
    field rows in the order they were posted (rows left without a label are
    dropped).  A new row's name is made from the CRM field it fills or its label."""
    rows = sorted({int(m.group(1)) for key in posted if (m := ROW.match(key))})
    fields: list[dict[str, Any]] = []
    taken: set[str] = set()
    for i in rows:
        get = lambda part, i=i: str(posted.get(f"fields-{i}-{part}", "")).strip()  # noqa: E731
        if not get("label"):
            continue
        kind = get("type") or "text"
        name = get("name") or _slug(get("maps_to")) or _slug(get("label")) or f"field_{i + 1}"
        base, n = name, 2
        while name in taken and not get("name"):
            name, n = f"{base[:37]}_{n}", n + 1
        taken.add(name)
        field: dict[str, Any] = {
            "name": name,
            "label": get("label"),
            "type": kind,
            "required": posted.get(f"fields-{i}-required") in ("on", "1", "true"),
            "maps_to": get("maps_to") or None,
            "choices": [line.strip() for line in get("choices").splitlines() if line.strip()],
        }
        if kind == "checkbox":
            field["grants"] = get("grants") or None
            field["subscribes"] = get("subscribes") or None
        fields.append(field)
    text = lambda name: str(posted.get(name, "")).strip()  # noqa: E731
    return {
        "name": text("name"),
        "title": text("title"),
        "description": text("description"),
        "fields": fields,
        "consents": _words_list(text("consents")),
        "subscriptions": _words_list(text("subscriptions")),
        "selection": text("selection") or None,
        "project": text("project") or None,
        "success_message": text("success_message") or STARTER["success_message"],
        "redirect_url": text("redirect_url") or None,
        "submit_label": text("submit_label") or "Send",
    }


def _kept(current: Mapping[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with what the builder does not show kept from the saved form: the
    rate limit, and each field's placeholder and length limit."""
    before = {f["name"]: f for f in current.get("fields") or []}
    for field in doc["fields"]:
        for part in ("placeholder", "max_length"):
            if part in before.get(field["name"], {}):
                field[part] = before[field["name"]][part]
    return {**doc, "rate_limit": current.get("rate_limit", 10)}


def _said(message: str, doc: Mapping[str, Any]) -> str:
    """One of the schema's messages in a marketer's words: field names become the
    field's label, and marshmallow's phrases plain ones."""
    message = MARSHMALLOW_WORDS.get(message, message)
    message = message.replace(" (maps_to: email)", "")
    message = message.replace("one field must map to email", "one field must fill the CRM field Email")
    message = message.replace("the field mapped to email", "the field that fills Email")
    labels = {f.get("name"): f.get("label") for f in doc.get("fields") or []}
    head, _, rest = message.partition(": ")
    if rest and head in labels:
        message = f"“{labels[head]}”: {rest}"
    return message[:1].upper() + message[1:]


def shown_errors(messages: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """The schema's errors by where the builder shows them: ``"name"``,
    ``"redirect_url"``..., ``"fields"`` (about the fields as a whole) and
    ``"fields-<row>-<part>"`` (beside one input of a row)."""
    shown: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "fields" and isinstance(value, dict):
            for row, parts in value.items():
                for part, said in parts.items() if isinstance(parts, dict) else [("label", parts)]:
                    lines = said if isinstance(said, list) else [str(said)]
                    shown.setdefault(f"fields-{row}-{part}", []).extend(_said(m, doc) for m in lines)
        elif doc.get(key) in ("", None) and key != "fields":
            shown[str(key)] = ["This is required."]
        else:
            lines = value if isinstance(value, list) else [str(value)]
            flat = [m if isinstance(m, str) else str(m) for m in lines]
            shown.setdefault(str(key), []).extend(_said(m, doc) for m in flat)
    return shown


def embed_snippet(rt: Runtime, form: Mapping[str, Any]) -> str:
    """A plain HTML form for the marketer's own page, posting to the hosted address."""
    return render_template(
        "admin/form_snippet.html", form=form, action=hosted_url(rt, form["id"]), honeypot=forms.HONEYPOT
    ).strip()
