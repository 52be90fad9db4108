"""``/api/v1/flows``: list, read, create, change, copy, delete, import, export,
versions, readiness, and start/pause/resume/end.

Saving validates exactly as the designer does (:func:`superflow.flow.parse_flow`):
missing settings are allowed, wrong ones are named field by field.  A flow's
``ETag`` is its version and last change; ``PUT`` and ``PATCH`` need it in
``If-Match`` (``428`` without, ``412`` when someone saved in between).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import request
from flask_smorest import Blueprint

from superflow import flows
from superflow import keys
from superflow.flow import FlowSchema
from superflow.runtime import Runtime
from superflow.webapp.api.auth import by
from superflow.webapp.api.auth import needs
from superflow.webapp.api.errors import ApiError
from superflow.webapp.api.schemas import EndedSchema
from superflow.webapp.api.schemas import FlowListSchema
from superflow.webapp.api.schemas import FlowOutSchema
from superflow.webapp.api.schemas import FlowQuerySchema
from superflow.webapp.api.schemas import ReadinessSchema
from superflow.webapp.api.schemas import StartQuerySchema
from superflow.webapp.api.schemas import VersionsSchema
from superflow.webapp.runtime import runtime

blp = Blueprint(
    "api_flows", __name__, url_prefix="/api/v1", description="Flows: design, versions and running."
)

FLOW_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Flow"}}},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "The flow's ETag, from GET (428 without it, 412 if the flow changed since).",
}
LOCK_MS = 10_000


def etag_of(meta: dict[str, str]) -> str:
    stamp = f"{meta.get('version')}:{meta.get('updated_at')}:{meta.get('status')}"
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    return f'"v{meta.get("version")}-{digest}"'


def existing(rt: Runtime, flow_id: str) -> dict[str, str]:
    """The flow's stored fields; 404 for a flow that never was or was deleted."""
    meta = rt.store.flow_meta(flow_id)
    if not meta or meta.get("deleted"):
        raise flows.FlowNotFound(flow_id)
    return meta


def flow_out(rt: Runtime, flow_id: str, version: int | None = None) -> dict[str, Any]:
    meta = existing(rt, flow_id)
    flow = flows.get(rt, flow_id, version)
    return {
        "id": flow_id,
        "name": flow.name,
        "status": meta["status"],
        "version": flow.version,
        "created_at": float(meta.get("created_at") or 0),
        "updated_at": float(meta.get("updated_at") or 0),
        "created_by": meta.get("created_by", ""),
        "updated_by": meta.get("updated_by", ""),
        "etag": etag_of(meta),
        "document": flow.doc,
    }


def with_etag(body: dict[str, Any], status: int = 200) -> tuple[dict[str, Any], int, dict[str, str]]:
    return body, status, {"ETag": body["etag"], "Location": f"/api/v1/flows/{body['id']}"}


def document() -> Any:
    raw = request.get_json(silent=True)
    if raw is None:
        raise ApiError(400, "send the flow document as JSON (Content-Type: application/json)", "(document)")
    return raw


# -- list, create, import -------------------------------------------------------
@blp.route("/flows", methods=["GET"])
@blp.arguments(FlowQuerySchema, location="query")
@blp.response(200, FlowListSchema)
@needs("read")
def list_flows(query: dict[str, Any]) -> dict[str, Any]:
    """Flows, newest first; search by name, status or trigger."""
    rows = flows.list_flows(runtime())
    q = query["q"].strip().lower()
    rows = [
        r
        for r in rows
        if (not q or q in (r["name"] or "").lower())
        and (query["status"] is None or r["status"] == query["status"])
        and (query["trigger"] is None or r["trigger"] == query["trigger"])
    ]
    page = rows[query["offset"] : query["offset"] + query["limit"]]
    return {"flows": page, "total": len(rows), "offset": query["offset"], "limit": query["limit"]}


@blp.route("/flows", methods=["POST"])
@blp.doc(requestBody=FLOW_BODY)
@blp.response(201, FlowOutSchema)
@needs("write")
def create_flow() -> Any:
    """Save a new flow as a draft.  Settings may still be missing (see readiness)."""
    rt = runtime()
    flow = flows.create(rt, document(), by=by())
    return with_etag(flow_out(rt, flow.id), 201)


@blp.route("/flows/import", methods=["POST"])
@blp.doc(requestBody=FLOW_BODY)
@blp.response(201, FlowOutSchema)
@needs("write")
def import_flow() -> Any:
    """Import an exported flow document as a new draft."""
    rt = runtime()
    raw = document()
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "status"}
    flow = flows.create(rt, raw, by=by())
    return with_etag(flow_out(rt, flow.id), 201)


# -- one flow -------------------------------------------------------------------
@blp.route("/flows/<flow_id>", methods=["GET"])
@blp.response(200, FlowOutSchema)
@needs("read")
def get_flow(flow_id: str) -> Any:
    """A flow with its document; the ``ETag`` header is what ``If-Match`` wants."""
    return with_etag(flow_out(runtime(), flow_id))


@blp.route("/flows/<flow_id>", methods=["PUT"])
@blp.doc(requestBody=FLOW_BODY, parameters=[IF_MATCH])
@blp.response(200, FlowOutSchema)
@needs("write")
def replace_flow(flow_id: str) -> Any:
    """Save a new version of the flow (a running flow must be paused first)."""
    raw = document()
    return _guarded_update(flow_id, lambda current: raw)


@blp.route("/flows/<flow_id>", methods=["PATCH"])
@blp.doc(
    requestBody={
        "required": True,
        "description": "A JSON merge patch (RFC 7386) of the flow document.",
        "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
    },
    parameters=[IF_MATCH],
)
@blp.response(200, FlowOutSchema)
@needs("write")
def patch_flow(flow_id: str) -> Any:
    """Change parts of the flow document (a JSON merge patch); saved as a new version."""
    raw = request.get_json(silent=True, force=True)
    if not isinstance(raw, dict):
        raise ApiError(400, "send a JSON object: the parts of the flow document to change", "(document)")
    return _guarded_update(flow_id, lambda current: merge_patch(current, raw))


def _guarded_update(flow_id: str, make: Any) -> Any:
    """Check ``If-Match`` and save, holding a short lock on the flow so that two
    editors with the same ETag cannot both pass the check."""
    rt = runtime()
    existing(rt, flow_id)
    wanted = request.headers.get("If-Match")
    if not wanted:
        raise ApiError(428, "send the flow's ETag (from GET) in If-Match", "If-Match")
    token = uuid.uuid4().hex
    if not rt.redis.set(keys.api_flow_lock(flow_id), token, nx=True, px=LOCK_MS):
        raise ApiError(409, "another change to this flow is being saved; fetch it again", "(busy)")
    try:
        meta = existing(rt, flow_id)
        current = etag_of(meta)
        if wanted.strip() != "*" and current not in [t.strip().removeprefix("W/") for t in wanted.split(",")]:
            raise ApiError(
                412,
                f"the flow changed since you read it (now {current}); fetch it again and merge your changes",
                "If-Match",
            )
        flows.update(rt, flow_id, make(flows.get(rt, flow_id).doc), by=by())
    finally:
        if rt.redis.get(keys.api_flow_lock(flow_id)) == token:
            rt.redis.delete(keys.api_flow_lock(flow_id))
    return with_etag(flow_out(rt, flow_id))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@blp.route("/flows/<flow_id>", methods=["DELETE"])
@blp.response(204)
@needs("write")
def delete_flow(flow_id: str) -> Any:
    """Delete a draft or ended flow (a running or paused one must be ended first)."""
    rt = runtime()
    existing(rt, flow_id)
    flows.delete(rt, flow_id)
    return ""


@blp.route("/flows/<flow_id>/copy", methods=["POST"])
@blp.response(201, FlowOutSchema)
@needs("write")
def copy_flow(flow_id: str) -> Any:
    """A new draft with the same document, named "Copy of …"."""
    rt = runtime()
    existing(rt, flow_id)
    flow = flows.copy(rt, flow_id, by=by())
    return with_etag(flow_out(rt, flow.id), 201)


@blp.route("/flows/<flow_id>/export", methods=["GET"])
@blp.response(200, FlowSchema)
@needs("read")
def export_flow(flow_id: str) -> Any:
    """The flow document, ready for ``POST /flows/import`` elsewhere."""
    rt = runtime()
    existing(rt, flow_id)
    headers = {"Content-Disposition": f'attachment; filename="flow-{flow_id}.json"'}
    return flows.export(rt, flow_id), 200, headers


@blp.route("/flows/<flow_id>/versions", methods=["GET"])
@blp.response(200, VersionsSchema)
@needs("read")
def versions(flow_id: str) -> dict[str, Any]:
    """The flow's saved versions (each save of the document makes one)."""
    rt = runtime()
    meta = existing(rt, flow_id)
    return {"flow_id": flow_id, "current": int(meta["version"]), "versions": rt.store.flow_versions(flow_id)}


@blp.route("/flows/<flow_id>/versions/<int:version>", methods=["GET"])
@blp.response(200, FlowOutSchema)
@needs("read")
def version(flow_id: str, version: int) -> dict[str, Any]:
    """One earlier version of the flow's document."""
    rt = runtime()
    existing(rt, flow_id)
    if version not in rt.store.flow_versions(flow_id):
        raise ApiError(404, f"flow {flow_id} has no version {version}", "version")
    return flow_out(rt, flow_id, version)


@blp.route("/flows/<flow_id>/readiness", methods=["GET"])
@blp.response(200, ReadinessSchema)
@needs("read")
def flow_readiness(flow_id: str) -> dict[str, Any]:
    """What is missing before the flow can start (empty when it can)."""
    rt = runtime()
    existing(rt, flow_id)
    problems = flows.not_ready(rt, flows.get(rt, flow_id))
    return {"ready": not problems, "problems": problems}


# -- running ----------------------------------------------------------------------
@blp.route("/flows/<flow_id>/start", methods=["POST"])
@blp.arguments(StartQuerySchema, location="query")
@blp.response(200, FlowOutSchema)
@needs("run")
def start(query: dict[str, Any], flow_id: str) -> Any:
    """Start a draft; refused (409) with everything that is missing."""
    rt = runtime()
    existing(rt, flow_id)
    flows.start(rt, flow_id, by=by(), earlier_today=query["earlier_today"])
    return with_etag(flow_out(rt, flow_id))


@blp.route("/flows/<flow_id>/pause", methods=["POST"])
@blp.response(200, FlowOutSchema)
@needs("run")
def pause(flow_id: str) -> Any:
    """Enrol no one and park participants where they stand."""
    rt = runtime()
    existing(rt, flow_id)
    rt.engine.pause(flow_id)
    return with_etag(flow_out(rt, flow_id))


@blp.route("/flows/<flow_id>/resume", methods=["POST"])
@blp.response(200, FlowOutSchema)
@needs("run")
def resume(flow_id: str) -> Any:
    """Release parked participants and enrol those who matched while paused."""
    rt = runtime()
    existing(rt, flow_id)
    rt.engine.resume(flow_id)
    return with_etag(flow_out(rt, flow_id))


@blp.route("/flows/<flow_id>/end", methods=["POST"])
@blp.response(200, EndedSchema)
@needs("run")
def end(flow_id: str) -> Any:
    """Cancel every active participant (their history is kept); the flow is ended."""
    rt = runtime()
    existing(rt, flow_id)
    cancelled = rt.engine.end(flow_id)
    body = flow_out(rt, flow_id)
    body["cancelled"] = cancelled
    return with_etag(body)
