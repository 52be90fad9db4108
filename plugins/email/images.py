"""The image library: pictures for emails, uploaded by content editors and flow
administrators, hosted by the web app under a stable public address.

- ``POST /email/images`` (multipart ``file``): checked on the server — the real type
  from the bytes (:mod:`.image_files`: PNG, JPEG, GIF, WebP; no SVG), at most
  ``SUPERFLOW_IMAGE_MAX_BYTES`` (default 5 MB), a bounded pixel size, not cut short —
  then kept as ``<data>/images/<hash>.<ext>`` (the first 32 hex digits of its SHA-256:
  the same picture uploaded twice is one file) and answered with its address.
- ``GET /images/<hash>.<ext>``: the picture for anyone (email clients fetch it), with
  its own content type, ``X-Content-Type-Options: nosniff`` and a year's caching (the
  address never shows other bytes).
- ``GET /email/images.json``: the library, newest first; ``POST
  /email/images/<file>/delete`` removes one that no library email or flow uses.

What is known of each picture (its file name as uploaded, size, pixels, who and when)
is the hash ``sf:email-images:all`` (file → JSON).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import abort
from flask import g
from flask import jsonify
from flask import request
from flask import send_file

from superflow import Services
from superflow import hookimpl
from superflow import larger_body
from superflow import login_required
from superflow import protect
from superflow import request_services
from superflow import role_required
from superflow import steps_of_type

from . import megabytes
from .image_files import NotAnImage
from .image_files import inspect
from .library import Library

bp = protect(Blueprint("email_images", __name__))
public = Blueprint("email_images_public", __name__)
NAMESPACE = "email-images"
FILE = re.compile(r"[0-9a-f]{32}\.(png|jpg|gif|webp)")
MULTIPART_SLACK = 64 * 1024
YEAR = 365 * 86400


def images_dir(services: Services) -> Path:
    return Path(services.config.data_dir) / "images"


def image_url(services: Services, file: str) -> str:
    """The picture's public address, as emails carry it."""
    return f"{services.config.base_url.rstrip('/')}/images/{file}"


def _refused(status: int, message: str, field: str = "file"):
    response = jsonify({"errors": [{"field": field, "message": message}]})
    response.status_code = status
    return response


def keep(services: Services, data: bytes, name: str, by: str) -> dict[str, Any]:
    """Check and keep an image; :class:`NotAnImage` says why it is refused."""
    limit = services.config.image_max_bytes
    if len(data) > limit:
        raise NotAnImage(f"the image is {megabytes(len(data))}; an image may be at most {megabytes(limit)}")
    if not data:
        raise NotAnImage("the file is empty")
    found = inspect(data)
    file = f"{hashlib.sha256(data).hexdigest()[:32]}.{found.kind}"
    folder = images_dir(services)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)
    record = {
        "file": file,
        "name": name[:200],
        "content_type": found.content_type,
        "width": found.width,
        "height": found.height,
        "size": len(data),
        "uploaded_at": time.time(),
        "uploaded_by": by,
        "url": image_url(services, file),
    }
    services.plugin_store(NAMESPACE).hset("all", file, json.dumps(record))
    return record


def all_images(services: Services) -> list[dict[str, Any]]:
    store = services.plugin_store(NAMESPACE)
    found = [json.loads(v) for v in store.redis.hvals(store.key("all"))]
    for item in found:
        item["url"] = image_url(services, item["file"])
    return sorted(found, key=lambda i: -i["uploaded_at"])


def used_by(services: Services, file: str) -> list[str]:
    """Where the picture is used: library emails and flows, by name."""
    needle = f"/images/{file}"
    found = [
        f"library email {e['name']}" for e in Library(services).all() if needle in json.dumps(e["design"])
    ]
    found += [
        f"flow {use['flow_name']}"
        for use in steps_of_type(services, "send_email")
        if needle in json.dumps(use["settings"])
    ]
    return list(dict.fromkeys(found))


@bp.post("/email/images")
@larger_body
@role_required("flow_admin", "content_editor")
def upload():
    services = request_services()
    limit = services.config.image_max_bytes
    declared = request.content_length or 0
    if declared > limit + MULTIPART_SLACK:
        return _refused(
            413, f"the image is {megabytes(declared)}; an image may be at most {megabytes(limit)}"
        )
    file = request.files.get("file")
    if file is None or not file.filename:
        return _refused(422, "choose an image to upload")
    data = file.stream.read(limit + 1)
    if len(data) > limit:
        return _refused(
            413, f"{file.filename} is over {megabytes(limit)}; an image may be at most {megabytes(limit)}"
        )
    try:
        record = keep(services, data, file.filename, g.user["username"])
    except NotAnImage as exc:
        return _refused(exc.status, f"{file.filename}: {exc}")
    return jsonify(record)


@bp.get("/email/images.json")
@login_required
def listing():
    return jsonify({"images": all_images(request_services())})


@bp.post("/email/images/<file>/delete")
@role_required("flow_admin", "content_editor")
def delete(file: str):
    services = request_services()
    if not FILE.fullmatch(file):
        return _refused(404, "there is no such image")
    users = used_by(services, file)
    if users:
        return _refused(409, f"this image is used by {', '.join(users)}: take it out there first")
    services.plugin_store(NAMESPACE).redis.hdel(services.plugin_store(NAMESPACE).key("all"), file)
    (images_dir(services) / file).unlink(missing_ok=True)
    return jsonify({"deleted": file})


@public.get("/images/<file>")
def hosted(file: str):
    if not FILE.fullmatch(file):
        abort(404, description="There is no such image.")
    path = images_dir(request_services()) / file
    if not path.is_file():
        abort(404, description="There is no such image (any more).")
    kind = file.rsplit(".", 1)[1]
    response = send_file(path, mimetype={"jpg": "image/jpeg"}.get(kind, f"image/{kind}"), max_age=YEAR)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@hookimpl
def superflow_register_routes(register):
    register(bp)
    register(public)
