"""The admin's Email library: saved emails listed, made from a starter template,
edited with the block editor, duplicated and deleted; and the JSON the block editor
asks for (the starters, the library, a design's preview).

Looking is for every signed-in role; creating, saving, duplicating and deleting need
a content editor or a flow administrator (checked here, on the server).

- ``GET /email/library``: the list, with the flows that use each email;
- ``POST /email/library`` (``starter``, ``name``): a new email from a starter;
- ``GET /email/library/<id>``: the editor; ``POST /email/library/<id>/save`` (JSON
  ``{"name", "design"}``): save, or 422 naming each wrong block;
- ``POST /email/library/<id>/duplicate``, ``POST /email/library/<id>/delete``
  (refused while a flow's step selects the email);
- ``GET /email/library.json``, ``GET /email/library/<id>.json``,
  ``GET /email/starters.json``; ``POST /email/render`` (JSON ``{"design"}``): the
  design's HTML as the preview shows it.
"""

from __future__ import annotations

import time
from copy import deepcopy
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from marshmallow import ValidationError

from superflow import hookimpl
from superflow import login_required
from superflow import protect
from superflow import request_services
from superflow import role_required

from .design import lawful_problems
from .design import load_design
from .library import Library
from .library import LibraryError
from .rendering import for_preview
from .rendering import render_design
from .starters import starter
from .starters import starters

EDITORS = ("flow_admin", "content_editor")
bp = protect(
    Blueprint(
        "email_library",
        __name__,
        template_folder=str(Path(__file__).parent / "templates"),
    )
)


def _library() -> Library:
    return Library(request_services())


def _errors(status: int, errors: list[dict[str, str]]) -> Any:
    response = jsonify({"errors": errors})
    response.status_code = status
    return response


def _design_errors(exc: ValidationError) -> list[dict[str, str]]:
    messages = exc.messages
    lines: list[str] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            values = value if isinstance(value, list) else [value]
            lines += [v if key == "blocks" else f"{key}: {v}" for v in values]
    else:
        lines = [str(m) for m in messages]
    return [{"field": "design", "message": line} for line in lines]


def can_edit() -> bool:
    return bool(g.get("user")) and g.user["role"] in EDITORS


@bp.get("/email/library")
@login_required
def index():
    library = _library()
    rows = []
    for email in library.all():
        users = library.used_by(email["id"])
        rows.append(
            {
                **email,
                "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(email["updated_at"])),
                "flows": list(dict.fromkeys(u["flow_name"] for u in users)),
            }
        )
    return render_template("email/library.html", rows=rows, starters=starters(), can_edit=can_edit())


@bp.post("/email/library")
@role_required(*EDITORS)
def create():
    chosen = starter(request.form.get("starter", ""))
    if chosen is None:
        abort(422, description="Choose one of the templates to start from.")
    name = request.form.get("name", "").strip() or chosen["name"]
    try:
        made = _library().create(name, deepcopy(chosen["design"]), g.user["username"])
    except LibraryError as exc:
        abort(422, description=str(exc))
    return redirect(url_for("email_library.edit", email_id=made["id"]))


def _found(email_id: str) -> dict[str, Any]:
    found = _library().get(email_id)
    if found is None:
        abort(404, description=f"There is no library email {email_id}.")
    return found


@bp.get("/email/library/<email_id>")
@login_required
def edit(email_id: str):
    email = _found(email_id)
    boot = {
        "email": email,
        "read_only": not can_edit(),
        "urls": {
            "save": url_for("email_library.save", email_id=email_id),
            "render": url_for("email_library.render"),
            "images": url_for("email_images.listing"),
            "upload": url_for("email_images.upload"),
            "library": url_for("email_library.index"),
        },
    }
    users = _library().used_by(email_id)
    return render_template(
        "email/library_edit.html",
        email=email,
        boot=boot,
        flows=list(dict.fromkeys(u["flow_name"] for u in users)),
        can_edit=can_edit(),
    )


@bp.post("/email/library/<email_id>/save")
@role_required(*EDITORS)
def save(email_id: str):
    _found(email_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _errors(400, [{"field": "", "message": "Send a JSON object with the name and the design."}])
    try:
        name = str(body.get("name") or "")
        saved = _library().update(email_id, name, body.get("design"), g.user["username"])
    except ValidationError as exc:
        return _errors(422, _design_errors(exc))
    except LibraryError as exc:
        return _errors(422, [{"field": "name", "message": str(exc)}])
    sender = request_services().config.sender_address
    return jsonify({"email": saved, "problems": lawful_problems(saved["design"], sender)})


@bp.post("/email/library/<email_id>/duplicate")
@role_required(*EDITORS)
def duplicate(email_id: str):
    _found(email_id)
    try:
        made = _library().duplicate(email_id, g.user["username"])
    except LibraryError as exc:
        abort(422, description=str(exc))
    flash(f"Made {made['name']}.")
    return redirect(url_for("email_library.edit", email_id=made["id"]))


@bp.post("/email/library/<email_id>/delete")
@role_required(*EDITORS)
def delete(email_id: str):
    email = _found(email_id)
    try:
        _library().delete(email_id)
    except LibraryError as exc:
        flash(f"{email['name']} was not deleted: {exc}", "error")
        return redirect(url_for("email_library.index")), 303
    flash(f"Deleted {email['name']}.")
    return redirect(url_for("email_library.index"), 303)


@bp.get("/email/library.json")
@login_required
def listing():
    return jsonify(
        {
            "emails": [
                {"id": e["id"], "name": e["name"], "updated_at": e["updated_at"]} for e in _library().all()
            ],
            "can_edit": can_edit(),
            "library_url": url_for("email_library.index"),
        }
    )


@bp.post("/email/library.json")
@role_required(*EDITORS)
def create_json():
    """A new library email from a design (the designer's "Save to the library")."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _errors(400, [{"field": "", "message": "Send a JSON object with the name and the design."}])
    try:
        made = _library().create(str(body.get("name") or ""), body.get("design"), g.user["username"])
    except ValidationError as exc:
        return _errors(422, _design_errors(exc))
    except LibraryError as exc:
        return _errors(422, [{"field": "name", "message": str(exc)}])
    return jsonify({"email": made}), 201


@bp.get("/email/library/<email_id>.json")
@login_required
def one(email_id: str):
    return jsonify({"email": _found(email_id)})


@bp.get("/email/starters.json")
@login_required
def starter_list():
    return jsonify({"starters": [{"key": key, **item} for key, item in starters().items()]})


@bp.post("/email/render")
@login_required
def render():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _errors(400, [{"field": "", "message": "Send a JSON object with the design."}])
    try:
        design = load_design(body.get("design"))
    except ValidationError as exc:
        return _errors(422, _design_errors(exc))
    sender = request_services().config.sender_address
    return jsonify(
        {"html": for_preview(render_design(design, sender)), "problems": lawful_problems(design, sender)}
    )


@hookimpl
def superflow_register_routes(register):
    register(bp)


@hookimpl
def superflow_register_admin_links(register):
    register("Email library", "/email/library")
