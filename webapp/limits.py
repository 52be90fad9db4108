"""What one request may send: a body size per route, JSON nesting depth, form fields.

Every body is bounded before anything parses it: ``MAX_CONTENT_LENGTH``
(``SUPERFLOW_MAX_REQUEST_BYTES``) everywhere, a larger one for routes marked with
:func:`larger_body` (uploads, ``SUPERFLOW_MAX_UPLOAD_BYTES``) and a smaller one for
routes marked with :func:`webhook_body` (``SUPERFLOW_MAX_WEBHOOK_BYTES``).  werkzeug
applies the limit to the stream, and a body without ``Content-Length`` (chunked) is
read here up to one byte past the limit, then refused (413): it is never held whole.
JSON is parsed only through :func:`loads`, which refuses nesting deeper than
``SUPERFLOW_MAX_JSON_DEPTH`` and more than ``SUPERFLOW_MAX_JSON_ITEMS`` values with a
400 instead of letting a ``RecursionError`` or a flood of schema errors through.  A
query string over ``SUPERFLOW_MAX_QUERY_BYTES`` gets 414; a ``Host`` header that is no
host name gets 400 (:class:`HostCheck`).

Webhook routes verify their signature before they parse, so the app-wide JSON check
leaves them alone: they call :func:`loads` themselves once the sender is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

from flask import Flask
from flask import current_app
from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.exceptions import RequestURITooLarge

from superflow.config import Config

View = TypeVar("View", bound=Callable[..., Any])
LARGER = "_superflow_larger_body"
WEBHOOK = "_superflow_webhook_body"


class BadJson(ValueError):
    """A body that is not JSON, or JSON nested too deep; the message names which."""


class JsonTooDeep(BadJson):
    """JSON nested deeper than the limit."""


def larger_body(view: View) -> View:
    """Let ``view`` take bodies up to ``SUPERFLOW_MAX_UPLOAD_BYTES`` (file uploads)."""
    setattr(view, LARGER, True)
    return view


def webhook_body(view: View) -> View:
    """Bound ``view``'s body by ``SUPERFLOW_MAX_WEBHOOK_BYTES`` and leave the parsing
    to the view, which checks the sender first."""
    setattr(view, WEBHOOK, True)
    return view


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def init_app(app: Flask, config: Config) -> None:
    """Put the limits on ``app``; call before anything that reads a body is registered."""
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        MAX_FORM_PARTS=config.max_form_fields,
        MAX_FORM_MEMORY_SIZE=config.max_form_field_bytes,
        SUPERFLOW_MAX_UPLOAD_BYTES=config.max_upload_bytes,
        SUPERFLOW_MAX_WEBHOOK_BYTES=min(config.max_webhook_bytes, config.max_request_bytes),
        SUPERFLOW_MAX_JSON_DEPTH=config.max_json_depth,
        SUPERFLOW_MAX_JSON_ITEMS=config.max_json_items,
        SUPERFLOW_MAX_QUERY_BYTES=config.max_query_bytes,
    )
    app.json = BoundedJSONProvider(app)
    app.before_request(bound_request)
    app.wsgi_app = HostCheck(app.wsgi_app)  # type: ignore[method-assign]


def too_large(limit: int | None = None) -> RequestEntityTooLarge:
    """The 413 for a body over ``limit`` (this request's limit when not given)."""
    limit = limit or request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
    declared = request.content_length
    if (
        declared is not None
        and declared <= limit
        and request.mimetype.startswith(("multipart/", "application/x-www"))
    ):
        fields = current_app.config["MAX_FORM_PARTS"]
        field_size = megabytes(current_app.config["MAX_FORM_MEMORY_SIZE"])
        return RequestEntityTooLarge(
            f"The form sends too much: at most {fields} fields of at most {field_size} each."
        )
    return RequestEntityTooLarge(f"The request is too large: this address takes at most {megabytes(limit)}.")


def route_limit() -> int:
    """This request's body limit, by what its route is marked with."""
    config = current_app.config
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, LARGER, False):
        return config["SUPERFLOW_MAX_UPLOAD_BYTES"]
    if getattr(view, WEBHOOK, False):
        return config["SUPERFLOW_MAX_WEBHOOK_BYTES"]
    return config["MAX_CONTENT_LENGTH"]


def has_body() -> bool:
    environ = request.environ
    return bool(request.content_length) or bool(
        environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def bound_request() -> None:
    """Before every view: the query string's length; the route's limit on the stream;
    a declared length over it is refused unread; any other body (uploads aside) is
    read within the limit now, so a chunked body over it gets 413 whether or not the
    view reads it, and JSON bodies are checked for depth and size (webhooks check
    theirs after the signature)."""
    query_limit = current_app.config["SUPERFLOW_MAX_QUERY_BYTES"]
    if len(request.query_string) > query_limit:
        raise RequestURITooLarge(
            f"The address is too long: at most {query_limit:,} characters after the '?' are taken."
        )
    limit = route_limit()
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, LARGER, False) or not has_body():
        return
    if request.content_length is None:
        # werkzeug stops a stream without a length at the limit without a word; one
        # byte more tells a body that ends there from one that goes on.
        request.max_content_length = limit + 1
    data = request.get_data(cache=True)
    if len(data) > limit:
        raise too_large(limit)
    if request.is_json and data and not getattr(view, WEBHOOK, False):
        try:
            loads(data)
        except BadJson as exc:
            raise BadRequest(str(exc)) from None


def loads(data: bytes | str, max_depth: int | None = None, max_items: int | None = None) -> Any:
    """``data`` parsed as JSON (UTF-8, -16 or -32), refusing nesting deeper than
    ``max_depth`` and more than ``max_items`` values in all (the app's
    ``SUPERFLOW_MAX_JSON_DEPTH`` and ``SUPERFLOW_MAX_JSON_ITEMS`` when not given): a
    megabyte of ``[{},{},…]`` is a third of a million objects, and every error a
    schema finds in them would be another."""
    if max_depth is None:
        max_depth = current_app.config.get("SUPERFLOW_MAX_JSON_DEPTH", 32)
    if max_items is None:
        max_items = current_app.config.get("SUPERFLOW_MAX_JSON_ITEMS", 50_000)
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonTooDeep(too_deep(max_depth)) from None
    except ValueError as exc:
        raise BadJson(f"The body is not valid JSON: {exc}.") from None
    depth, items = measure(value, max_depth, max_items)
    if depth > max_depth:
        raise JsonTooDeep(too_deep(max_depth))
    if items > max_items:
        raise BadJson(f"The JSON body has too many values: at most {max_items:,} are taken.")
    return value


def too_deep(max_depth: int) -> str:
    return f"The JSON body is nested too deep: at most {max_depth} levels of objects and lists are taken."


def measure(value: Any, max_depth: int, max_items: int) -> tuple[int, int]:
    """The nesting depth of objects and lists in ``value`` and its number of values,
    walked without recursion; the walk stops once either is over its bound."""
    stack = [(value, 1)]
    deepest, items = 0, 1
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        items += len(children)
        if deepest > max_depth or items > max_items:
            break
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest, items


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON with :func:`loads`' depth bound, so ``request.get_json`` (also with
    ``force=True``) answers a ``ValueError`` for deep JSON, never a ``RecursionError``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        config = self._app.config
        return loads(
            s, config.get("SUPERFLOW_MAX_JSON_DEPTH", 32), config.get("SUPERFLOW_MAX_JSON_ITEMS", 50_000)
        )


HOST = re.compile(
    r"(?:[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)


class HostCheck:
    """WSGI middleware: a ``Host`` header that is no host name (non-ASCII, a label over
    63 characters, spaces, over 260 characters) gets 400 before Flask builds its URL
    adapter from it, which would fail with a ``UnicodeError``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        if host is None or (len(host) <= 260 and HOST.fullmatch(host)):
            return self.app(environ, start_response)
        if environ.get("PATH_INFO", "").startswith("/api/"):
            body = json.dumps({"errors": [{"field": "Host", "message": BAD_HOST}]}).encode()
            kind = "application/json"
        else:
            body, kind = f"400 Bad Request: {BAD_HOST}\n".encode(), "text/plain; charset=utf-8"
        start_response("400 BAD REQUEST", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]


BAD_HOST = "The Host header is not a host name: send the site's address as it appears in its links."
