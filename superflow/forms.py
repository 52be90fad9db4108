"""Hosted forms: their definitions, kept in Redis, and what a submission means.

A definition (checked by :class:`FormDefinition`) names its fields — each with a
name, label, type, whether it is required and the CRM person field it fills
(``maps_to``) — the consents and subscriptions a submission grants, the selection
and project the person is added to, and the message shown (or the page of the
marketer's own site opened) afterwards.  One field must map to
``email``: a submission creates the person with that address; what it would change
about a person the CRM already has, and every consent and subscription it gives,
waits for the emailed confirmation (:mod:`superflow.form_confirmations`).

Keys: ``sf:form:<id>`` (the definition, JSON), ``sf:forms`` (sorted set of ids by
creation time), ``sf:seq:form`` (the last number given to a form created without
an id), ``sf:forms:deleted`` (id → name of each deleted form).  Functions take the
Redis connection (decoded responses), so the web app,
the JSON API and the CLI share them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import redis
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields as mf
from marshmallow import validate
from marshmallow import validates_schema

from superflow import keys

HONEYPOT = "website_url"
FIELD_TYPES = ("text", "email", "tel", "textarea", "number", "date", "checkbox", "select", "hidden")
TRUE = ("1", "true", "on", "yes")
EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{4,30}$")


class FormNotFound(LookupError):
    def __init__(self, form_id: str) -> None:
        super().__init__(f"there is no form {form_id!r}")
        self.form_id = form_id


class FormExists(ValueError):
    def __init__(self, form_id: str) -> None:
        super().__init__(f"a form with the id {form_id!r} already exists")
        self.form_id = form_id


class FormInvalid(ValueError):
    """A definition that cannot be saved; ``messages`` is marshmallow's dict and
    ``problems`` the same as ``"path: message"`` lines."""

    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages
        self.problems = list(_flatten(messages))
        super().__init__("; ".join(self.problems))


def _flatten(messages: Any, path: str = "") -> Iterable[str]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield f"{path}: {message}" if path else message
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            yield from _flatten(value, f"{path}.{index}")
    else:
        yield f"{path}: {messages}"


class FormField(Schema):
    name = mf.String(
        required=True,
        validate=validate.Regexp(
            r"^[a-z][a-z0-9_]{0,39}$", error="use lower-case letters, digits and _ (at most 40)"
        ),
        metadata={"label": "Name", "help": "The field's key in the post and in the event"},
    )
    label = mf.String(required=True, validate=validate.Length(min=1, max=200), metadata={"label": "Label"})
    type = mf.String(load_default="text", validate=validate.OneOf(FIELD_TYPES), metadata={"label": "Type"})
    required = mf.Boolean(load_default=False, metadata={"label": "Required"})
    maps_to = mf.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "CRM field", "help": "The person field it fills, e.g. first_name; empty: none"},
    )
    choices = mf.List(
        mf.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        metadata={"label": "Choices", "help": "For a select field"},
    )
    grants = mf.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Grants consent", "help": "For a checkbox: the consent purpose given when ticked"},
    )
    subscribes = mf.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={
            "label": "Starts subscription",
            "help": "For a checkbox: the email subscription started when ticked, e.g. newsletter",
        },
    )
    placeholder = mf.String(load_default="", validate=validate.Length(max=200))
    max_length = mf.Integer(load_default=500, validate=validate.Range(min=1, max=10000))


class FormDefinition(Schema):
    id = mf.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", error="use letters, digits, - and _"),
        metadata={"label": "Id", "help": "Part of the form's address /forms/<id>; empty: a number"},
    )
    name = mf.String(required=True, validate=validate.Length(min=1, max=200), metadata={"label": "Name"})
    title = mf.String(load_default="", validate=validate.Length(max=200), metadata={"label": "Heading"})
    description = mf.String(load_default="", validate=validate.Length(max=5000))
    fields = mf.List(
        mf.Nested(FormField),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"label": "Fields"},
    )
    consents = mf.List(
        mf.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        metadata={"label": "Consents", "help": "Purposes a submission grants, e.g. emarketing"},
    )
    subscriptions = mf.List(
        mf.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        metadata={
            "label": "Subscriptions",
            "help": "Email subscriptions a submission starts, e.g. newsletter",
        },
    )
    selection = mf.String(
        load_default=None, allow_none=True, metadata={"label": "Add to selection", "help": "A selection's id"}
    )
    project = mf.String(
        load_default=None, allow_none=True, metadata={"label": "Add to project", "help": "A project's id"}
    )
    redirect_url = mf.Url(
        load_default=None,
        allow_none=True,
        schemes={"http", "https"},
        require_tld=False,
        error_messages={"invalid": "enter a web address starting with http:// or https://"},
        metadata={
            "label": "Then go to",
            "help": "A page of your own site the visitor is sent to after sending; empty: a thank-you page",
        },
    )
    success_message = mf.String(
        load_default="Thank you! We have received your answer.",
        validate=validate.Length(min=1, max=2000),
        metadata={"label": "Message after sending"},
    )
    submit_label = mf.String(load_default="Send", validate=validate.Length(min=1, max=60))
    rate_limit = mf.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=100000),
        metadata={"label": "Posts per hour", "help": "From one address (IP) to this form"},
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        names = [f["name"] for f in data.get("fields") or []]
        for name in sorted({n for n in names if names.count(n) > 1}):
            errors.setdefault("fields", []).append(f"two fields are named {name!r}")
        if HONEYPOT in names:
            errors.setdefault("fields", []).append(
                f"{HONEYPOT!r} is kept for spam protection; rename the field"
            )
        targets = [f["maps_to"] for f in data.get("fields") or [] if f.get("maps_to")]
        for target in sorted({t for t in targets if targets.count(t) > 1}):
            errors.setdefault("fields", []).append(f"two fields fill the CRM field {target!r}")
        email = [f for f in data.get("fields") or [] if f.get("maps_to") == "email"]
        if not email:
            errors.setdefault("fields", []).append("one field must map to email (maps_to: email)")
        elif not email[0]["required"] or email[0]["type"] != "email":
            errors.setdefault("fields", []).append(
                f"{email[0]['name']}: the field mapped to email must be required and of type email"
            )
        for f in data.get("fields") or []:
            if f["type"] == "select" and not f["choices"]:
                errors.setdefault("fields", []).append(f"{f['name']}: a select field needs choices")
            if f.get("grants") and f["type"] != "checkbox":
                errors.setdefault("fields", []).append(f"{f['name']}: only a checkbox can grant a consent")
            if f.get("subscribes") and f["type"] != "checkbox":
                errors.setdefault("fields", []).append(
                    f"{f['name']}: only a checkbox can start a subscription"
                )
        if errors:
            raise ValidationError(errors)


def load(doc: Mapping[str, Any], crm_fields: Iterable[Any] | None = None) -> dict[str, Any]:
    """A checked definition, or :class:`FormInvalid`.  With ``crm_fields`` (the CRM's
    :class:`~superflow.crm.FieldInfo` list) every ``maps_to`` must be a writable
    person field there."""
    meta = {k: v for k, v in doc.items() if k in ("created_at", "updated_at")}
    try:
        form = FormDefinition().load({k: v for k, v in doc.items() if k not in meta})
    except ValidationError as exc:
        raise FormInvalid(exc.messages) from None
    if crm_fields is not None:
        known = {f.key for f in crm_fields if f.entity == "person" and f.writable}
        wrong = [
            f"{f['name']}: the CRM has no person field {f['maps_to']!r}"
            for f in form["fields"]
            if f["maps_to"] and f["maps_to"] not in known
        ]
        if wrong:
            raise FormInvalid({"fields": wrong})
    return {**form, **meta}


def create(
    conn: redis.Redis, doc: Mapping[str, Any], crm_fields: Iterable[Any] | None = None
) -> dict[str, Any]:
    """Save a new form; without an id it gets the next number.  :class:`FormExists`
    when the id is taken."""
    form = load(doc, crm_fields)
    now = time.time()
    if not form["id"]:
        form["id"] = str(conn.incr(keys.FORM_SEQ))
        while conn.exists(keys.form(form["id"])):
            form["id"] = str(conn.incr(keys.FORM_SEQ))
    form["created_at"] = form["updated_at"] = now
    if not conn.set(keys.form(form["id"]), json.dumps(form), nx=True):
        raise FormExists(form["id"])
    pipe = conn.pipeline()
    pipe.zadd(keys.FORMS, {form["id"]: now})
    pipe.hdel(keys.FORMS_DELETED, form["id"])
    pipe.execute()
    return form


def get(conn: redis.Redis, form_id: str) -> dict[str, Any]:
    raw = conn.get(keys.form(form_id))
    if raw is None:
        raise FormNotFound(form_id)
    return json.loads(raw)


def list_forms(conn: redis.Redis) -> list[dict[str, Any]]:
    """Every form, oldest first."""
    ids = conn.zrange(keys.FORMS, 0, -1)
    raws = conn.mget([keys.form(i) for i in ids]) if ids else []
    return [json.loads(raw) for raw in raws if raw is not None]


def update(
    conn: redis.Redis, form_id: str, doc: Mapping[str, Any], crm_fields: Iterable[Any] | None = None
) -> dict[str, Any]:
    """Replace a form's definition (its id and creation time stay)."""
    current = get(conn, form_id)
    form = load({**doc, "id": form_id}, crm_fields)
    form["created_at"], form["updated_at"] = current["created_at"], time.time()
    conn.set(keys.form(form_id), json.dumps(form))
    return form


def delete(conn: redis.Redis, form_id: str) -> bool:
    """Remove a form; False if there was none.  Its name is kept, so that a flow
    that still names the form can say which one was deleted (:func:`deleted_name`)."""
    try:
        name = get(conn, form_id).get("name") or form_id
    except FormNotFound:
        return False
    pipe = conn.pipeline()
    pipe.delete(keys.form(form_id))
    pipe.zrem(keys.FORMS, form_id)
    pipe.hset(keys.FORMS_DELETED, form_id, name)
    return bool(pipe.execute()[0])


def deleted_name(conn: redis.Redis, form_id: str) -> str | None:
    """The name of a form that was deleted (and not made again), or ``None``."""
    return conn.hget(keys.FORMS_DELETED, form_id)


# -- submissions ----------------------------------------------------------------


def _value(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    if isinstance(value, list):  # a JSON list, or getlist() of a repeated form field
        value = value[0] if value else None
    return value


def check_submission(
    form: Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The submitted values cleaned per the form's fields, and the errors as
    ``[{"field": name, "message": ...}]`` (each message names the field's label).
    Values of names the form does not have are ignored."""
    clean: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for f in form["fields"]:
        name, label = f["name"], f["label"]
        raw = _value(values, name)
        if f["type"] == "checkbox":
            ticked = raw is True or (isinstance(raw, str) and raw.strip().lower() in TRUE)
            if f["required"] and not ticked:
                errors.append({"field": name, "message": f"{label}: tick this box to go on"})
            clean[name] = ticked
            continue
        text = "" if raw is None else str(raw).strip()
        if not text:
            if f["required"]:
                errors.append({"field": name, "message": f"{label} is required"})
            continue
        problem, value = _checked(f, text)
        if problem:
            errors.append({"field": name, "message": f"{label}: {problem}"})
        else:
            clean[name] = value
    return clean, errors


def _checked(f: Mapping[str, Any], text: str) -> tuple[str, Any]:
    kind = f["type"]
    if len(text) > f["max_length"]:
        return f"at most {f['max_length']} characters", None
    if kind == "email":
        return ("", text) if EMAIL.match(text) else ("this is not an email address", None)
    if kind == "tel":
        return ("", text) if PHONE.match(text) else ("this is not a phone number", None)
    if kind == "number":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return "this is not a number", None
        return "", int(number) if number.is_integer() else number
    if kind == "date":
        try:
            return "", dt.date.fromisoformat(text).isoformat()
        except ValueError:
            return "this is not a date (YYYY-MM-DD)", None
    if kind == "select" and text not in f["choices"]:
        return f"choose one of {', '.join(f['choices'])}", None
    return "", text


def person_changes(form: Mapping[str, Any], clean: Mapping[str, Any]) -> dict[str, Any]:
    """CRM field → value for the fields that map to one and were filled in."""
    return {f["maps_to"]: clean[f["name"]] for f in form["fields"] if f["maps_to"] and f["name"] in clean}


def consents_given(form: Mapping[str, Any], clean: Mapping[str, Any]) -> list[str]:
    """The form's consents, and those of the ticked checkboxes that grant one."""
    ticked = [f["grants"] for f in form["fields"] if f.get("grants") and clean.get(f["name"])]
    return list(dict.fromkeys([*form["consents"], *ticked]))


def subscriptions_given(form: Mapping[str, Any], clean: Mapping[str, Any]) -> list[str]:
    """The form's subscriptions, and those of the ticked checkboxes that start one."""
    ticked = [f["subscribes"] for f in form["fields"] if f.get("subscribes") and clean.get(f["name"])]
    return list(dict.fromkeys([*form["subscriptions"], *ticked]))
