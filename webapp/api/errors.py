"""One shape for every error of the JSON API:
``{"errors": [{"field": ..., "message": ...}]}``.

``field`` names what is wrong (``steps[2].settings.subject``, ``person``,
``If-Match``) or, when no field is to blame, the cause (``(auth)``, ``(rate)``,
``(path)``, ``(flow)``).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from marshmallow import Schema
from marshmallow import fields
from werkzeug.exceptions import HTTPException

CAUSES = {
    400: "(request)",
    401: "(auth)",
    403: "(auth)",
    404: "(path)",
    405: "(method)",
    409: "(state)",
    412: "If-Match",
    413: "(request)",
    414: "(request)",
    415: "(request)",
    422: "(document)",
    428: "If-Match",
    429: "(rate)",
    500: "(server)",
}


class ErrorItemSchema(Schema):
    field = fields.String(required=True, metadata={"description": "The field at fault, or the cause."})
    message = fields.String(required=True)


class ErrorSchema(Schema):
    errors = fields.List(fields.Nested(ErrorItemSchema), required=True)


class ApiError(Exception):
    """Raise in an API view to answer with ``status`` and these errors."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or [{"field": field or CAUSES.get(status, "(request)"), "message": message}]
        self.headers = headers or {}


MAX_ERRORS = 100
"""Errors listed in one answer: a body of 50,000 bad items would otherwise get
megabytes of them back."""


def response(status: int, errors: list[dict[str, str]], headers: dict[str, str] | None = None) -> Any:
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        errors = [
            *errors[:MAX_ERRORS],
            {"field": "(document)", "message": f"and {more:,} more errors like these"},
        ]
    resp = jsonify({"errors": errors})
    resp.status_code = status
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def from_api_error(error: ApiError) -> Any:
    return response(error.status, error.errors, error.headers)


def from_http_exception(error: HTTPException) -> Any:
    """werkzeug's exceptions and flask-smorest's ``abort`` (webargs validation
    errors arrive as ``data["messages"]``) in the API's shape."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors: list[dict[str, str]] = []
    if "messages" in data or "errors" in data:
        errors = flatten(data.get("errors") or data.get("messages"), strip_location=True)
    if not errors:
        message = data.get("message") or error.description or error.name
        if status == 405:
            message = f"{error.name}: this path does not accept that method"
        errors = [{"field": CAUSES.get(status, "(request)"), "message": str(message)}]
    headers = dict(data.get("headers") or {})
    valid = getattr(error, "valid_methods", None)
    if status == 405 and valid:
        headers["Allow"] = ", ".join(valid)
    return response(status, errors, headers)


LOCATIONS = ("json", "query", "view_args", "headers", "form", "files", "path", "cookies")


def flatten(messages: Any, prefix: str = "", strip_location: bool = False) -> list[dict[str, str]]:
    """marshmallow's nested error messages as ``{field, message}`` items, with
    ``a.b[2].c`` paths (webargs' location level, e.g. ``json``, dropped)."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if strip_location and not prefix and key in LOCATIONS:
                out += flatten(value, "")
                continue
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "(document)"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out += flatten(value, name)
    elif isinstance(messages, list | tuple):
        for message in messages:
            if isinstance(message, dict | list):
                out += flatten(message, prefix)
            else:
                out.append({"field": prefix or "(document)", "message": str(message)})
    elif messages is not None:
        out.append({"field": prefix or "(document)", "message": str(messages)})
    return out
