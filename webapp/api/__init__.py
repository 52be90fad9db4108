"""The JSON API for integrators, under ``/api/v1``.

flask-smorest builds the OpenAPI 3 document (``/api/v1/openapi.json``) from the
marshmallow schemas of :mod:`superflow.webapp.api.schemas`; ``/api/v1/docs`` shows it.
Resources live one per module (``flows``, ``participants``, ``events``, ``persons``,
``reports``); this module ties them to the app: authentication and rate limits
(:mod:`.auth`) and one error shape (:mod:`.errors`) for everything under
``/api/v1``.
"""

from __future__ import annotations

import html
import json
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import abort
from flask import request
from flask import send_from_directory
from flask import url_for
from flask_smorest import Api
from flask_smorest import Blueprint as ApiBlueprint
from werkzeug.exceptions import HTTPException

from superflow.crm import CrmError
from superflow.flow import FlowInvalid
from superflow.flow import FlowNotReady
from superflow.flow import FlowSchema
from superflow.flows import FlowNotFound
from superflow.flows import FlowStateError
from superflow.participation import ParticipantBusy
from superflow.participation import ParticipantNotFound
from superflow.participation import ParticipationError
from superflow.registry import UnknownComponent
from superflow.webapp.api import errors
from superflow.webapp.api.auth import authorise
from superflow.webapp.api.auth import rate_headers
from superflow.webapp.api.errors import ApiError
from superflow.webapp.api.errors import ErrorSchema

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
"""The pages about the API that need no key: the docs page."""

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>superflow API</title>
<link rel="icon" href="{icon}">
<link rel="stylesheet" href="{css}">
</head><body>
<p style="font-family:sans-serif;margin:1em">The OpenAPI document:
<a href="{spec}">{spec}</a>. Authorise with an API key (<code>superflow apikeys create</code>).</p>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body></html>
"""

# validatorUrl null: no badge fetched from swagger.io; the page asks nothing of another host.
DOCS_INIT = """window.ui = SwaggerUIBundle({url: %s, dom_id: "#swagger-ui", validatorUrl: null});\n"""

DOCS_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
"""The Swagger UI files the docs page uses, served from the ``flask-swagger-ui``
package's copy of Swagger UI's dist folder: the page works offline and under the
app's ``default-src 'self'`` policy (its set-up is a script of its own, ``docs.js``)."""


def _swagger_dist() -> str:
    from importlib.resources import files

    return str(files("flask_swagger_ui") / "dist")


@bp.get("/docs")
def docs() -> Response:
    spec = url_for("api-docs.openapi_json")
    page = DOCS_PAGE.format(
        spec=html.escape(spec),
        icon=html.escape(url_for("favicon")),
        css=html.escape(url_for("api.docs_asset", filename="swagger-ui.css")),
        bundle=html.escape(url_for("api.docs_asset", filename="swagger-ui-bundle.js")),
        init=html.escape(url_for("api.docs_init")),
    )
    return Response(page, mimetype="text/html")


@bp.get("/docs.js")
def docs_init() -> Response:
    spec = url_for("api-docs.openapi_json")
    return Response(DOCS_INIT % json.dumps(spec), mimetype="text/javascript")


@bp.get("/docs/<filename>")
def docs_asset(filename: str) -> Response:
    """Swagger UI's script and style sheet (cached a day; they change with the package)."""
    if filename not in DOCS_ASSETS:
        abort(404, description=f"The API docs have no file {filename}.")
    return send_from_directory(_swagger_dist(), filename, max_age=86400)


class SuperflowApi(Api):
    """flask-smorest's ``Api`` with superflow's error shape, for ``/api/v1`` only."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
            return error  # the rest of the app keeps Flask's own error pages
        return errors.from_http_exception(error)


def init_app(app: Flask) -> SuperflowApi:
    """Set up flask-smorest and register every API resource."""
    from superflow.webapp.api import events
    from superflow.webapp.api import flows
    from superflow.webapp.api import participants
    from superflow.webapp.api import persons
    from superflow.webapp.api import reports

    app.config.update(
        API_TITLE="superflow",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Marketing automation flows, their participants, events and reports. "
                    "Every call needs an API key: `Authorization: Bearer sf_...`. Errors always "
                    'have the shape `{"errors": [{"field": ..., "message": ...}]}`.'
                )
            },
            "security": [{"apiKey": []}],
            "components": {
                "securitySchemes": {
                    "apiKey": {"type": "http", "scheme": "bearer", "description": "An sf_... API key."}
                }
            },
        },
    )
    api = SuperflowApi(app)
    api.spec.components.schema("Flow", schema=FlowSchema)
    app.register_error_handler(ApiError, errors.from_api_error)
    app.register_blueprint(bp)
    for resource in (flows.blp, participants.blp, events.blp, reports.blp, persons.blp):
        _guard(resource)
        api.register_blueprint(resource)
    return api


def _guard(blp: ApiBlueprint) -> None:
    """Every resource: a key, its permission and its rate limit first; domain errors
    in the API's shape.  Once per blueprint (apps come and go; blueprints stay)."""
    if getattr(blp, "_sf_guarded", False):
        return
    blp._sf_guarded = True  # type: ignore[attr-defined]
    blp.before_request(authorise)
    blp.after_request(rate_headers)

    def one(status: int, field: str) -> Any:
        return lambda exc: errors.response(status, [{"field": field, "message": str(exc)}])

    blp.register_error_handler(FlowNotFound, one(404, "flow_id"))
    blp.register_error_handler(ParticipantNotFound, one(404, "participant_id"))
    blp.register_error_handler(FlowStateError, one(409, "status"))
    blp.register_error_handler(ParticipantBusy, one(409, "(busy)"))
    blp.register_error_handler(UnknownComponent, one(422, "type"))
    blp.register_error_handler(CrmError, one(422, "(crm)"))
    blp.register_error_handler(
        ParticipationError,
        lambda exc: errors.response(409, [{"field": exc.field or "(state)", "message": str(exc)}]),
    )
    blp.register_error_handler(FlowInvalid, lambda exc: errors.response(422, exc.errors))
    blp.register_error_handler(
        FlowNotReady,
        lambda exc: errors.response(409, [{"field": "(readiness)", "message": p} for p in exc.problems]),
    )
