"""SMS through an HTTP gateway: one JSON POST per message, shaped by configuration.

Settings (environment variables):

- ``SUPERFLOW_SMS_GATEWAY_URL`` — where to POST (required);
- ``SUPERFLOW_SMS_GATEWAY_AUTH_HEADER`` — one header, ``Authorization: Bearer xyz``;
- ``SUPERFLOW_SMS_GATEWAY_BODY`` — the JSON body, with ``{to}``, ``{sender}``,
  ``{text}`` and ``{reference}`` inside its strings (default
  ``{"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{reference}"}``).
  The template is parsed as JSON first and the values are put into its strings, so
  quotes, backslashes and line breaks in a text are escaped properly;
- ``SUPERFLOW_SMS_GATEWAY_ID_PATH`` — where the message id is in the gateway's JSON
  answer, dotted (``id``, ``messages.0.id``); without one there, the reference is kept;
- ``SUPERFLOW_SMS_GATEWAY_TIMEOUT`` (seconds per request, default 10),
  ``SUPERFLOW_SMS_GATEWAY_TRIES`` (default 3) and ``SUPERFLOW_SMS_GATEWAY_MAX_WAIT``
  (the longest pause between tries, default 10 seconds);
- ``SUPERFLOW_SMS_GATEWAY_HONOURS_REFERENCE`` — ``true`` only if the gateway drops a
  second message with a reference it has seen.

What happens to a message:

- 2xx: sent; its id is read from the answer;
- 429 and 5xx, or a connection that could not be opened: tried again within the call
  after a pause (``Retry-After`` when the gateway gives one, else 0.5 s, 1 s, 2 s …),
  at most ``TRIES`` times.  Then a 429/5xx is a
  :class:`~superflow.channels.TemporaryFailure` for that message alone (retried later,
  after the gateway's ``Retry-After`` when it gave one, else after ``MAX_WAIT``, times
  the attempt: 10 s, 20 s, 30 s …; the rest of the batch goes on),
  and a gateway that could not be reached at all is a
  :class:`~superflow.channels.ChannelError`: the rest of the batch waits.  A
  ``Retry-After`` longer than ``MAX_WAIT`` ends the tries at once;
- another 4xx: that message is refused for good — a
  :class:`~superflow.channels.PermanentFailure` naming the status and the
  gateway's message takes its id's place, and the other messages are still sent;
- no answer in time after the request went out: the gateway may have sent it.  Unless
  the gateway honours the reference, the message is *in doubt* and taken as sent (a
  :class:`~superflow.channels.MaybeSent`, named in the participant's history): it is
  not sent again, and the participant goes on.

The provider is **not idempotent** by default: a gateway cannot be asked whether a
reference was sent, so the message ledger claims each message right before the
request and records it after (and the reference is sent only as a courtesy).  With
``SUPERFLOW_SMS_GATEWAY_HONOURS_REFERENCE=true`` it is idempotent: the step then sends
again after a crash and trusts the gateway to drop the repeat.

The gateway's callbacks — delivery receipts at ``/hooks/sms-gateway/receipts`` and
replies (STOP) at ``/hooks/sms-gateway/inbound`` — are described with their handlers
below ("delivery receipts and replies").
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from flask import Blueprint
from flask import jsonify
from flask import request

from superflow import BadJson
from superflow import ChannelError
from superflow import CrmError
from superflow import Event
from superflow import JsonTooDeep
from superflow import MaybeSent
from superflow import PermanentFailure
from superflow import SmsMessage
from superflow import SmsProvider
from superflow import TemporaryFailure
from superflow import hookimpl
from superflow import loads
from superflow import request_services
from superflow import webhook_body

DEFAULT_BODY = '{"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{reference}"}'
PLACEHOLDER = re.compile(r"\{(to|sender|text|reference)\}")
TRUE = ("1", "true", "yes", "on")

log = logging.getLogger(__name__)


class GatewayBusy(Exception):
    """The gateway did not take a message after the tries allowed; try later
    (``retry_after``: the pause it asked for)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GatewayUnreachable(Exception):
    """No connection to the gateway could be opened: the channel is down."""


def fill(template: Any, values: dict[str, str]) -> Any:
    """The body template with the placeholders in its strings replaced."""
    if isinstance(template, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, values) for value in template]
    return template


def dig(data: Any, path: str) -> Any:
    """``messages.0.id`` from a JSON answer; ``None`` when it is not there."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def retry_after(reply: requests.Response) -> float | None:
    """The pause a ``Retry-After`` header asks for (seconds or an HTTP date)."""
    value = (reply.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def gateway_message(reply: requests.Response) -> str:
    """The gateway's own words about a refusal."""
    try:
        data = reply.json()
    except ValueError:
        return reply.text.strip()[:200]
    if isinstance(data, dict):
        for key in ("message", "error_description", "detail", "error", "errors", "description"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("description") or json.dumps(value)
            if value:
                return str(value)[:200]
    return json.dumps(data)[:200]


def _never_reached(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the gateway (no connection)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    text = repr(exc)
    return any(
        sign in text
        for sign in ("NewConnectionError", "NameResolutionError", "Connection refused", "Failed to resolve")
    )


class HttpGateway(SmsProvider):
    """An HTTP SMS gateway configured by ``SUPERFLOW_SMS_GATEWAY_*`` settings (see the
    module's documentation for what each does and what happens to a message).

    ``send_many`` returns, per message, its id or a
    :class:`~superflow.plugins.email.PermanentFailure`; it raises ``ChannelError``
    (``sent`` = the results before it) when the gateway stays busy.  ``sleep`` may be
    replaced (tests do) to skip the pauses between tries.
    """

    name = "http_gateway"
    label = "HTTP SMS gateway"
    idempotent = False

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.url = config.setting("sms_gateway_url").strip()
        if not self.url:
            raise ValueError("SUPERFLOW_SMS_GATEWAY_URL is not set: the http_gateway SMS provider needs it")
        self.headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        auth = config.setting("sms_gateway_auth_header").strip()
        if auth:
            header, colon, value = auth.partition(":")
            if not colon or not header.strip() or not value.strip():
                raise ValueError(
                    "SUPERFLOW_SMS_GATEWAY_AUTH_HEADER must look like 'Authorization: Bearer xyz'"
                )
            self.headers[header.strip()] = value.strip()
        raw = config.setting("sms_gateway_body", DEFAULT_BODY)
        try:
            self.template = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"SUPERFLOW_SMS_GATEWAY_BODY is not JSON ({exc}); put the placeholders inside strings,"
                ' e.g. {"to": "{to}", "text": "{text}"}'
            ) from None
        self.id_path = config.setting("sms_gateway_id_path", "id")
        self.timeout = float(config.setting("sms_gateway_timeout", "10"))
        self.tries = max(1, int(config.setting("sms_gateway_tries", "3")))
        self.max_wait = float(config.setting("sms_gateway_max_wait", "10"))
        self.idempotent = config.setting("sms_gateway_honours_reference").strip().lower() in TRUE  # type: ignore[misc]
        self.session = requests.Session()
        self.sleep: Callable[[float], Any] = time.sleep

    def send_many(self, messages: list[tuple[SmsMessage, str]]) -> list[Any]:
        results: list[Any] = []
        for message, key in messages:
            try:
                results.append(self._send_one(message, key))
            except GatewayBusy as exc:
                # Its tries already spanned a few seconds: the next attempt comes
                # after the gateway's Retry-After, else after MAX_WAIT (×attempt).
                pause = exc.retry_after if exc.retry_after is not None else self.max_wait
                raise TemporaryFailure(f"SMS gateway: {exc}", retry_after=pause) from None
            except GatewayUnreachable as exc:
                raise ChannelError(f"SMS gateway: {exc}", sent=results) from None
            except _MaybeSent as exc:
                results.append(MaybeSent(str(exc)))
        return results

    def _body(self, message: SmsMessage, key: str) -> bytes:
        values = {"to": message.to, "sender": message.sender, "text": message.text, "reference": key}
        return json.dumps(fill(self.template, values), ensure_ascii=False).encode()

    def _send_one(self, message: SmsMessage, key: str) -> Any:
        body = self._body(message, key)
        problem, asked, reached = "", None, False
        for attempt in range(1, self.tries + 1):
            pause = min(self.max_wait, 0.5 * 2 ** (attempt - 1))
            try:
                reply = self.session.post(
                    self.url, data=body, headers=self.headers, timeout=(5, self.timeout)
                )
            except requests.RequestException as exc:
                if not _never_reached(exc) and not self.idempotent:
                    raise _MaybeSent(
                        f"no answer from the gateway for {message.to} ({type(exc).__name__});"
                        " it may have been sent"
                    ) from None
                problem = f"cannot reach {self.url}: {type(exc).__name__}"
            else:
                reached = True
                if reply.status_code < 300:
                    return self._message_id(reply, key)
                if reply.status_code != 429 and reply.status_code < 500:
                    return PermanentFailure(f"gateway answered {reply.status_code}: {gateway_message(reply)}")
                problem = f"gateway answered {reply.status_code}: {gateway_message(reply)}"
                asked = retry_after(reply)
                if asked is not None:
                    if asked > self.max_wait:
                        raise GatewayBusy(f"{problem} (asked to wait {asked:g} s)", asked)
                    pause = asked
            if attempt < self.tries:
                self.sleep(pause)
        if not reached:
            raise GatewayUnreachable(f"{problem} ({self.tries} tries)")
        raise GatewayBusy(f"{problem} ({self.tries} tries)", asked)

    def _message_id(self, reply: requests.Response, key: str) -> str:
        try:
            found = dig(reply.json(), self.id_path)
        except ValueError:
            found = None
        return str(found) if found not in (None, "") else key

    def probe(self) -> bool:
        """The gateway answers again: any reply to a GET of its URL but a 5xx or a
        429 (a gateway's 404 or 405 for a GET still says it is up)."""
        try:
            reply = self.session.get(self.url, headers=self.headers, timeout=(3, 5))
        except requests.RequestException:
            return False
        return reply.status_code < 500 and reply.status_code != 429

    def close(self) -> None:
        self.session.close()


class _MaybeSent(Exception):
    """The request went out but no answer came: the gateway may have sent it."""


@hookimpl
def superflow_register_sms_providers(register):
    register(HttpGateway)


# -- delivery receipts and replies ------------------------------------------------
#
# The gateway calls back with JSON (an object, or a list of them) or a form post:
#
# - ``POST /hooks/sms-gateway/receipts``: a delivery report.  Where its parts are is
#   set by ``SUPERFLOW_SMS_GATEWAY_RECEIPT_REFERENCE_PATH`` (default ``reference``: the
#   reference sent with the message, ``<participant id>:<step id>…``), ``_STATUS_PATH``
#   (``status``), ``_ID_PATH`` (``id``), ``_TO_PATH`` (``to``) and ``_ERROR_PATH``
#   (``error``).  "delivered" (and ``delivrd``, ``success``) counts ``sms.delivered``,
#   "failed"/"undelivered"/"rejected"/"expired" counts ``sms.undelivered``, each once
#   per message, in the flow's report counters, and emits ``sms.delivered`` or
#   ``sms.failed`` for the person; other statuses (queued, sent) are only answered.
# - ``POST /hooks/sms-gateway/inbound``: a reply (``SUPERFLOW_SMS_GATEWAY_INBOUND_FROM_PATH``,
#   ``_TEXT_PATH``, ``_ID_PATH``; defaults ``from``, ``text``, ``id``).  A reply whose
#   first word is a stop word (``SUPERFLOW_SMS_GATEWAY_STOP_WORDS``, default
#   STOP, STOPP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) withdraws the person's SMS
#   consent (purpose ``SUPERFLOW_SMS_CONSENT_PURPOSE``, default ``sms``) in the CRM
#   and emits ``sms.stopped``; any other reply emits ``sms.received``.
#
# Both require ``SUPERFLOW_SMS_GATEWAY_WEBHOOK_SECRET``, given in the ``X-Webhook-Secret``
# header or as ``Authorization: Bearer <secret>`` (preferred), or as ``?secret=`` in the
# callback address for gateways that cannot set headers (the access log shows it as
# ``[redacted]``).  Bodies are bounded by ``SUPERFLOW_MAX_WEBHOOK_BYTES`` and JSON in depth.
#
# The sender of a reply is found with the CRM backend's ``find_person_by_mobile`` when
# it has one, else through ``sf:sms:number:<digits>`` (person id; written when a
# delivery report names the number, kept 400 days).

STOP_WORDS = "STOP,STOPP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT"
DELIVERED = {"delivered", "delivrd", "success", "succeeded"}
UNDELIVERED = {"failed", "undelivered", "undeliv", "rejected", "expired", "error", "deleted", "unknown"}
NUMBER_TTL = 400 * 86400
REFERENCE = re.compile(r"^(\d+\.\d+):([^:]+)")

hooks = Blueprint("sms_gateway", __name__, url_prefix="/hooks/sms-gateway")


class BadCallback(Exception):
    """A callback that cannot be used; the message names why (answered with 4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def number_name(number: str) -> str:
    """Where the person last texted at ``number`` is kept, in the ``sms`` plugin store."""
    return f"number:{digits_of(number)}"


def digits_of(number: str) -> str:
    """``+47 900 00 000``, ``0047 90000000`` and ``4790000000`` alike: ``4790000000``."""
    digits = re.sub(r"\D", "", number or "")
    return digits[2:] if digits.startswith("00") else digits


def _check_secret(config: Any) -> None:
    secret = config.setting("sms_gateway_webhook_secret").strip()
    if not secret:
        raise BadCallback("SUPERFLOW_SMS_GATEWAY_WEBHOOK_SECRET is not set; callbacks are refused", 403)
    auth = request.headers.get("Authorization", "")
    given = (
        request.args.get("secret")
        or request.headers.get("X-Webhook-Secret")
        or (auth[7:] if auth.lower().startswith("bearer ") else "")
    )
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise BadCallback("the webhook secret is missing or wrong", 403)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _items() -> list[dict[str, Any]]:
    """The callback's items: a JSON object or list (bounded in depth), form fields, or
    (no body) the query's fields; 415 for a body of another type."""
    body: Any
    if request.is_json:
        try:
            body = loads(request.get_data(cache=True))
        except JsonTooDeep as exc:
            raise BadCallback(str(exc)) from None
        except BadJson:
            raise BadCallback("the body is not valid JSON") from None
    elif request.mimetype in FORM_TYPES or not request.get_data(cache=True):
        body = request.form.to_dict() or request.args.to_dict()
        body.pop("secret", None)
    else:
        raise BadCallback(
            f"the body must be JSON or form fields, not {request.mimetype or 'of no stated type'}", 415
        )
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise BadCallback("the body must be a JSON object, a list of objects, or form fields")
    return items


def _text(item: dict[str, Any], config: Any, name: str, default: str) -> str:
    value = dig(item, config.setting(name, default))
    return "" if value is None else str(value).strip()


@hooks.errorhandler(BadCallback)
def _bad(exc: BadCallback):
    return jsonify({"error": str(exc)}), exc.status


@hooks.post("/receipts")
@webhook_body
def receipts():
    rt = request_services()
    _check_secret(rt.config)
    items = _items()
    recorded = 0
    for item in items:
        recorded += _receipt(rt, item)
    return jsonify({"received": len(items), "recorded": recorded})


def _receipt(rt: Any, item: dict[str, Any]) -> int:
    config = rt.config
    reference = _text(item, config, "sms_gateway_receipt_reference_path", "reference")
    status = _text(item, config, "sms_gateway_receipt_status_path", "status").lower()
    found = REFERENCE.match(reference)
    if not found:
        log.info("SMS receipt without a reference of ours (%r); ignored", reference[:80])
        return 0
    pid, step = found.group(1), found.group(2)
    kind = "delivered" if status in DELIVERED else "undelivered" if status in UNDELIVERED else ""
    if not kind:
        return 0
    flow_id = pid.rpartition(".")[0]
    counters = rt.counters
    if not counters.is_first(flow_id, f"r:{reference}:{kind}"):
        return 0  # the gateway sent this report before
    pipe = rt.redis.pipeline(transaction=False)
    counters.count(pipe, flow_id, step, f"sms.{kind}")
    pipe.execute()
    participant = rt.store.participant(pid)
    if participant is None:
        return 1
    to = _text(item, config, "sms_gateway_receipt_to_path", "to")
    if to and digits_of(to):
        rt.plugin_store("sms").set(number_name(to), participant.person_id, ttl=NUMBER_TTL)
    data = {
        "participant_id": pid,
        "step_id": step,
        "flow_id": flow_id,
        "message_id": _text(item, config, "sms_gateway_receipt_id_path", "id"),
        "status": status,
    }
    error = _text(item, config, "sms_gateway_receipt_error_path", "error")
    if error:
        data["error"] = error[:200]
    event_type = "sms.delivered" if kind == "delivered" else "sms.failed"
    rt.emit([Event(event_type, participant.person_id, data, source="sms_gateway")])
    return 1


@hooks.post("/inbound")
@webhook_body
def inbound():
    rt = request_services()
    _check_secret(rt.config)
    results = [_reply(rt, item) for item in _items()]
    return jsonify(results[0] if len(results) == 1 else {"results": results})


def _person_with_mobile(rt: Any, number: str) -> str:
    find = getattr(rt.crm, "find_person_by_mobile", None)
    if find is not None:
        person = find(number)
        return str(person["id"]) if person else ""
    return rt.plugin_store("sms").get(number_name(number)) or ""


def _reply(rt: Any, item: dict[str, Any]) -> dict[str, Any]:
    config = rt.config
    number = _text(item, config, "sms_gateway_inbound_from_path", "from")
    text = _text(item, config, "sms_gateway_inbound_text_path", "text")
    if not digits_of(number):
        raise BadCallback("the reply has no sender number (SUPERFLOW_SMS_GATEWAY_INBOUND_FROM_PATH)")
    words = re.findall(r"\w+", text.upper())
    stop_words = {w.strip().upper() for w in config.setting("sms_gateway_stop_words", STOP_WORDS).split(",")}
    stop = bool(words) and words[0] in stop_words
    try:
        person_id = _person_with_mobile(rt, number)
    except CrmError as exc:
        raise BadCallback(f"the CRM could not be asked who has {number}: {exc}", 503) from None
    if not person_id:
        log.warning(
            "SMS reply from %s, whom the CRM does not know; %s", number, "STOP not applied" if stop else ""
        )
        return {"status": "unknown number", "stop": stop}
    if not stop:
        rt.emit(
            [Event("sms.received", person_id, {"number": number, "text": text[:1000]}, source="sms_gateway")]
        )
        return {"status": "received", "stop": False}
    purpose = config.setting("sms_consent_purpose", "sms")
    message_id = _text(item, config, "sms_gateway_inbound_id_path", "id")
    set_consent = getattr(rt.crm, "set_consent", None)
    if set_consent is None:
        raise BadCallback(f"the {rt.crm.name} CRM backend has no set_consent(); STOP cannot be recorded", 501)
    try:
        set_consent(
            person_id,
            purpose,
            False,
            legal_basis="SMS reply " + words[0],
            idempotency_key=f"sms-stop:{message_id}" if message_id else None,
        )
    except CrmError as exc:
        raise BadCallback(f"the SMS consent could not be withdrawn in the CRM: {exc}", 503) from None
    data = {"number": number, "keyword": words[0], "purpose": purpose}
    rt.emit([Event("sms.stopped", person_id, data, source="sms_gateway")])
    return {"status": "stopped", "stop": True}


@hookimpl
def superflow_register_routes(register):
    register(hooks)
