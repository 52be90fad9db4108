"""Email attachments uploaded from the designer: ``POST /email/attachments`` stores a
file in ``<data>/attachments`` (where send email steps take their attachments from)
and answers its name, path and size.  The 25 MB limit is enforced here, on the server,
before the file is kept (the request itself may be up to ``SUPERFLOW_MAX_UPLOAD_BYTES``,
default 32 MB, where every other route takes 1 MB); the designer learns the address from the ``attachments``
setting's schema (``x-upload``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint
from flask import jsonify
from flask import request
from werkzeug.utils import secure_filename

from superflow import hookimpl
from superflow import larger_body
from superflow import protect
from superflow import request_services
from superflow import role_required

from . import MAX_ATTACHMENTS_BYTES
from . import attachments_dir
from . import megabytes

bp = protect(Blueprint("email_attachments", __name__))
MULTIPART_SLACK = 64 * 1024
MAX_NAME = 200
"""Characters of a kept file name: with ``-<hash>`` added by :func:`_free_name` it
stays under the 255 bytes file systems allow."""


def _refused(status: int, message: str):
    response = jsonify({"errors": [{"field": "file", "message": message}]})
    response.status_code = status
    return response


@bp.post("/email/attachments")
@larger_body
@role_required("flow_admin", "content_editor")
def upload():
    limit = MAX_ATTACHMENTS_BYTES
    declared = request.content_length or 0
    if declared > limit + MULTIPART_SLACK:
        name = request.args.get("name") or "the file"
        return _refused(
            413, f"{name} is {megabytes(declared)}; the limit is {megabytes(limit)} per attachment"
        )
    file = request.files.get("file")
    if file is None or not file.filename:
        return _refused(422, "choose a file to upload")
    data = file.stream.read(limit + 1)
    if len(data) > limit:
        return _refused(
            413, f"{file.filename} is over {megabytes(limit)}; the limit is {megabytes(limit)} per attachment"
        )
    name = stored_name(file.filename)
    folder = attachments_dir(request_services().config)
    folder.mkdir(parents=True, exist_ok=True)
    path = _free_name(folder, name, data)
    path.write_bytes(data)
    return jsonify({"name": file.filename, "path": path.name, "size": len(data)})


def stored_name(filename: str) -> str:
    """The name the file is kept under: ``filename`` made safe for a path, shortened
    to :data:`MAX_NAME` characters (its extension kept) so that any name a browser
    sends can be stored."""
    name = secure_filename(filename) or "attachment"
    if len(name) <= MAX_NAME:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 16:
        return name[:MAX_NAME]
    return f"{stem[: MAX_NAME - len(suffix) - 1]}.{suffix}"


def _free_name(folder: Path, name: str, data: bytes) -> Path:
    """``name`` in ``folder``, unless another file has it: then ``name`` with a short
    hash of the content, so an upload never replaces an attachment a flow uses."""
    path = folder / name
    if not path.exists() or path.read_bytes() == data:
        return path
    stem, dot, suffix = name.rpartition(".")
    tag = hashlib.sha256(data).hexdigest()[:8]
    return folder / (f"{stem}-{tag}.{suffix}" if dot else f"{name}-{tag}")


@hookimpl
def superflow_register_routes(register):
    register(bp)
