"""``POST /hooks/superoffice``: SuperOffice's webhook notifications.

The request is verified (``X-SuperOffice-Signature`` is the base64 HMAC-SHA256 of the
raw body with the shared secret, compared in constant time; docs/en/automation/webhook/security.md),
de-duplicated by its ``EventId`` (Redis ``SET NX`` with a TTL: SuperOffice retries a failed
delivery with the same EventId, docs/en/automation/webhook/notification.md) and queued; the
answer goes back at once.  The ``test`` event SuperOffice posts when the webhook is saved
gets a plain 200 (docs/en/automation/webhook/reference/test-event.md).  ``person.created``
needs nothing but the payload and is emitted straight away; everything else is mapped in a worker job
(:func:`process`), which reads what it needs through the WebAPI.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from flask import Blueprint, jsonify, request

from superflow.events import Event

from .backend import SOURCE

log = logging.getLogger(__name__)

bp = Blueprint("superoffice", __name__)

SIGNATURE_HEADER = "X-SuperOffice-Signature"
EVENT_TTL = 7 * 86400


def signature(secret: str, body: bytes) -> str:
    """What SuperOffice puts in ``X-SuperOffice-Signature`` for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verified(secret: str, body: bytes, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(signature(secret, body), given.strip())


def event_key(event_id: str) -> str:
    return f"sf:superoffice:event:{event_id}"


@bp.post("/hooks/superoffice")
def receive() -> Any:
    from superflow.webapp.runtime import runtime

    rt = runtime()
    secret = rt.config.setting("superoffice_webhook_secret")
    if not secret:
        log.error("SuperOffice webhook refused: SUPERFLOW_SUPEROFFICE_WEBHOOK_SECRET is not set")
        return jsonify(error="the SuperOffice webhook secret is not configured"), 503
    body = request.get_data(cache=False)
    given = request.headers.get(SIGNATURE_HEADER)
    if not verified(secret, body, given):
        log.warning(
            "SuperOffice webhook from %s refused: %s signature",
            request.remote_addr,
            "bad" if given else "missing",
        )
        return jsonify(error=f"{'bad' if given else 'missing'} {SIGNATURE_HEADER}"), 401
    try:
        payload = json.loads(body)
    except ValueError:
        return jsonify(error="the body is not JSON"), 400
    if not isinstance(payload, dict):
        return jsonify(error="the body is not a JSON object"), 400
    name = str(payload.get("Event") or "").lower()
    event_id = str(payload.get("EventId") or "")
    if name in ("", "test") or not event_id:
        return jsonify(ok=True, test=True)
    if not rt.redis.set(event_key(event_id), "1", nx=True, ex=EVENT_TTL):
        return jsonify(ok=True, duplicate=True)
    if name == "person.created" and str(payload.get("PrimaryKey") or "").isdigit():
        rt.emit([Event("person.created", str(payload["PrimaryKey"]), {}, source=SOURCE)])
    else:
        from superflow.jobs import FAILURE_TTL, RETRY

        rt.queue.enqueue(
            "superflow.plugins.superoffice.webhooks.process",
            args=(payload,),
            retry=RETRY,
            result_ttl=0,
            failure_ttl=FAILURE_TTL,
        )
    return jsonify(ok=True)


def process(payload: dict[str, Any]) -> None:
    """RQ job: map one verified payload to superflow events and hand them to the engine."""
    from superflow.runtime import current

    from .events import events_for

    rt = current()
    rt.emit(events_for(rt.crm, payload))
