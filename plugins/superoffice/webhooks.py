"""``POST /hooks/superoffice``: SuperOffice's webhook notifications.

The request is verified (``X-SuperOffice-Signature`` is the base64 HMAC-SHA256 of the
raw body with the shared secret, compared in constant time; docs/en/automation/webhook/security.md),
de-duplicated by its ``EventId`` (Redis ``SET NX`` with a TTL: SuperOffice retries a failed
delivery with the same EventId, docs/en/automation/webhook/notification.md) and queued; the
answer goes back at once.  The ``test`` event SuperOffice posts when the webhook is saved
gets a plain 200 (docs/en/automation/webhook/reference/test-event.md).  ``person.created``
needs nothing but the payload and is emitted straight away; everything else is mapped in a worker job
(:func:`process`), which reads what it needs through the WebAPI.

In that order: the body is bounded while it is read (``SUPERFLOW_MAX_WEBHOOK_BYTES``,
413), the signature checked (401, or 400 when the header is no signature at all), the
content type must be JSON (415), the JSON bounded in depth and its fields of the types
SuperOffice sends (400); nothing is written or queued before all of that passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from typing import Any

from flask import Blueprint
from flask import jsonify
from flask import request

from superflow import BadJson
from superflow import Event
from superflow import JsonTooDeep
from superflow import Services
from superflow import loads
from superflow import request_services
from superflow import webhook_body

from .backend import SOURCE
from .ledger import NAMESPACE

log = logging.getLogger(__name__)

bp = Blueprint("superoffice", __name__)

SIGNATURE_HEADER = "X-SuperOffice-Signature"
EVENT_TTL = 7 * 86400


def signature(secret: str, body: bytes) -> str:
    """What SuperOffice puts in ``X-SuperOffice-Signature`` for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


SIGNATURE = re.compile(r"[A-Za-z0-9+/]{43}=")
"""The form of a base64 HMAC-SHA256: 32 bytes are 43 characters and one ``=``."""
EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
"""SuperOffice sends a GUID; anything of up to 64 letters, digits, ``.``, ``_``, ``:``
and ``-`` is taken, so the id is safe in a Redis key and a log line."""
NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


class Refused(Exception):
    """A notification that is not used; answered with ``status`` and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def verified(secret: str, body: bytes, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(signature(secret, body).encode(), given.strip().encode())


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Any:
    return jsonify(error=str(exc)), exc.status


@bp.post("/hooks/superoffice")
@webhook_body
def receive() -> Any:
    """Size (while reading), signature, content type, then the JSON and its fields;
    only then is anything written or queued."""
    rt = request_services()
    secret = rt.config.setting("superoffice_webhook_secret")
    if not secret:
        log.error("SuperOffice webhook refused: SUPERFLOW_SUPEROFFICE_WEBHOOK_SECRET is not set")
        return jsonify(error="the SuperOffice webhook secret is not configured"), 503
    body = request.get_data(cache=True)
    check_signature(secret, body, request.headers.get(SIGNATURE_HEADER))
    if not request.is_json:
        raise Refused(415, f"the body must be sent as application/json, not {request.mimetype or 'no type'}")
    try:
        payload = loads(body)
    except JsonTooDeep as exc:
        raise Refused(400, str(exc)) from None
    except BadJson:
        raise Refused(400, "the body is not JSON") from None
    name = checked(payload)
    if name == "test":
        return jsonify(ok=True, test=True)
    event_id = payload["EventId"]
    if not rt.plugin_store(NAMESPACE).set(f"event:{event_id}", "1", ttl=EVENT_TTL, only_if_new=True):
        return jsonify(ok=True, duplicate=True)
    if name == "person.created" and str(payload.get("PrimaryKey") or "").isdigit():
        rt.emit([Event("person.created", str(payload["PrimaryKey"]), {}, source=SOURCE)])
    else:
        rt.enqueue("superflow.plugins.superoffice.webhooks.process", payload)
    return jsonify(ok=True)


def check_signature(secret: str, body: bytes, given: str | None) -> None:
    """:class:`Refused` unless ``given`` is the body's signature: 401 when missing or
    wrong, 400 when it is not a signature at all (non-ASCII, not base64, too long)."""
    if not given:
        log.warning("SuperOffice webhook from %s refused: missing signature", request.remote_addr)
        raise Refused(401, f"missing {SIGNATURE_HEADER}")
    if not SIGNATURE.fullmatch(given.strip()):
        log.warning("SuperOffice webhook from %s refused: malformed signature", request.remote_addr)
        raise Refused(400, f"the {SIGNATURE_HEADER} header is not a base64 HMAC-SHA256 signature")
    if not verified(secret, body, given):
        log.warning("SuperOffice webhook from %s refused: bad signature", request.remote_addr)
        raise Refused(401, f"bad {SIGNATURE_HEADER}")


def checked(payload: Any) -> str:
    """The event's name (lower case) once the payload's fields have the types
    SuperOffice sends; :class:`Refused` (400) naming the first that does not."""
    if not isinstance(payload, dict):
        raise Refused(400, "the body is not a JSON object")
    name = payload.get("Event")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise Refused(400, "Event must be the event's name, such as contact.changed")
    event_id = payload.get("EventId")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise Refused(400, "EventId must be text of up to 64 letters, digits, '.', '_', ':' or '-'")
    if name.lower() == "test":
        return "test"
    key = payload.get("PrimaryKey")
    if isinstance(key, bool) or not (isinstance(key, int) or (isinstance(key, str) and key.isdigit())):
        raise Refused(400, "PrimaryKey must be the changed record's number")
    for field, kind, label in (
        ("Changes", list, "a list of field names"),
        ("Entity", str, "text"),
        ("FieldValues", dict, "an object"),
        ("Values", dict, "an object"),
    ):
        value = payload.get(field)
        if value is not None and not isinstance(value, kind):
            raise Refused(400, f"{field} must be {label}")
    if not all(isinstance(change, str) for change in payload.get("Changes") or []):
        raise Refused(400, "Changes must be a list of field names")
    return name.lower()


def process(services: Services, payload: dict[str, Any]) -> None:
    """Job (:meth:`Services.enqueue`): map one verified payload to superflow events and
    hand them to the engine."""
    from .events import events_for

    services.emit(events_for(services.crm, payload))
