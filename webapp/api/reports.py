"""Reports (the counters behind the Reports tab) and what is installed (plugins and
their components, each with its settings as JSON Schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_smorest import Blueprint

from superflow import flows
from superflow import reports
from superflow.webapp.api.auth import needs
from superflow.webapp.api.errors import ApiError
from superflow.webapp.api.flows import existing
from superflow.webapp.api.jsonschema import component_entry
from superflow.webapp.api.schemas import PluginsSchema
from superflow.webapp.api.schemas import ReportQuerySchema
from superflow.webapp.api.schemas import ReportSchema
from superflow.webapp.runtime import runtime

blp = Blueprint("api_reports", __name__, url_prefix="/api/v1", description="Reports and installed plugins.")
MAX_DAYS = reports.MAX_DAYS
COMPONENT_KINDS = ("triggers", "filters", "step_types", "success_criteria")


@blp.route("/flows/<flow_id>/report", methods=["GET"])
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, ReportSchema)
@needs("read")
def report(query: dict[str, Any], flow_id: str) -> dict[str, Any]:
    """Totals, per-step counts, exits, branches and a day-by-day series (UTC days)."""
    rt = runtime()
    existing(rt, flow_id)
    until = query["until"] or dt.datetime.now(dt.UTC).date()
    since = query["since"] or until - dt.timedelta(days=29)
    if since > until:
        raise ApiError(422, "'from' must not be after 'to'", "from")
    if (until - since).days >= MAX_DAYS:
        raise ApiError(422, f"ask for at most {MAX_DAYS} days at a time", "to")
    return reports.flow_report(rt, flows.get(rt, flow_id), since, until)


@blp.route("/plugins", methods=["GET"])
@blp.response(200, PluginsSchema)
@needs("read")
def plugins() -> dict[str, Any]:
    """Installed plugins, and every trigger, filter, step type and success criterion
    with its settings as JSON Schema (what the designer builds its forms from)."""
    registry = runtime().registry
    components = []
    for kind in COMPONENT_KINDS:
        for name, item in sorted(registry.all(kind).items()):
            components.append(component_entry(registry, kind, name, item))
    return {"plugins": registry.plugins(), "components": components}
