"""Recipients' links: tracked clicks, the open pixel and the unsubscribe page.

- ``GET /t/c/<token>``: a tracked link.  Redirects (302) to the URL sealed in the
  token, never to anything else (a query string is ignored).  A token that is cut
  short, changed, made with another secret or for another kind of link gets an HTML
  page naming the cause (400 or 404); an expired one (older than
  ``SUPERFLOW_TRACKING_MAX_AGE_DAYS``, default 400; 0 = never) gets 410 and a plain
  link to where it led.
- ``GET /t/o/<token>.gif``: the open pixel.  Always a 1×1 GIF with 200, also for a bad
  token (a mail client shows no error for a broken image, and a probe learns
  nothing); only a good token counts and emits.
- ``GET /u/<token>``: the unsubscribe page, with a button that POSTs to the same
  address; ``POST /u/<token>`` withdraws and confirms.  A POST whose body is
  ``List-Unsubscribe=One-Click`` (RFC 8058, sent by mail providers) withdraws and
  answers 200 with a short text.  The token is the capability: nothing else is asked.

Opens and clicks are counted through :mod:`superflow.counters`, in
``sf:flow:<flow id>:stats`` (``email.opened``, ``link.clicked``: every time;
``email.opened.unique``, ``link.clicked.unique``: once per message; each also per
step as ``step:<step id>:<counter>``), clicks per address in
``sf:flow:<flow id>:links:<step id>``, and the firsts are remembered in
``sf:flow:<flow id>:seen``.  The first open of a message and the first click of each
of its links become events (``email.opened``, ``link.clicked``); repeats only count.
A first click on a link with link actions also queues the job that does them
(:mod:`superflow.link_actions`): the click's answer never waits for the CRM.

Looking is not acting: an admin screen that shows a sent message passes it through
:func:`for_viewing` first, which points tracked links straight at where they lead
and drops the open pixel, so neither viewing it nor clicking its links (in a frame
or a new tab, signed in or not) reaches these routes.  The routes themselves do not
guess who is asking: a marketer who sends a flow's email to their own address and
clicks it in the browser they are signed in with is a recipient and counts.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from typing import Any

from flask import Blueprint
from flask import Response
from flask import redirect
from flask import render_template
from flask import request

from superflow import flows
from superflow import link_actions
from superflow import queueing
from superflow import tracking
from superflow.counters import Counters
from superflow.crm import CrmError
from superflow.events import Event
from superflow.flow import FlowInvalid
from superflow.registry import UnknownComponent
from superflow.runtime import Runtime
from superflow.webapp.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("tracking", __name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}
ONE_CLICK = "One-Click"


def _max_age(rt: Runtime) -> float:
    raw = rt.config.setting("tracking_max_age_days", str(tracking.DEFAULT_MAX_AGE_DAYS))
    try:
        return float(raw)
    except ValueError:
        return float(tracking.DEFAULT_MAX_AGE_DAYS)


def _not_valid(exc: tracking.TokenInvalid, what: str) -> tuple[str, int, dict[str, str]]:
    expired = exc.token if exc.token is not None and exc.token.kind == "c" else None
    page = render_template(
        "public/error.html",
        title="This link has expired" if exc.status == 410 else "This link is not valid",
        cause=exc.cause,
        what=what,
        destination=expired.url if expired else "",
    )
    return page, exc.status, {**NO_STORE, "Content-Type": "text/html; charset=utf-8"}


def _person_of(rt: Runtime, token: tracking.Token) -> str:
    if token.person_id:
        return token.person_id
    participant = rt.store.participant(token.participant_id)
    return participant.person_id if participant is not None else ""


def record(rt: Runtime, token: tracking.Token) -> bool:
    """Count an open or a click; emit its event if it is the first of its kind (an
    open per message, a click per message and address).  True if an event went out."""
    flow_id, step = token.flow_id, token.step_id
    counter = "email.opened" if token.kind == "o" else "link.clicked"
    first_key = f"{token.kind}:{token.participant_id}:{step}"
    pipe = rt.redis.pipeline(transaction=False)
    Counters.first(pipe, flow_id, first_key)
    Counters.count(pipe, flow_id, step, counter)
    if token.kind == "c":
        digest = hashlib.blake2b(token.url.encode(), digest_size=8).hexdigest()
        link_reply = len(pipe)
        Counters.first(pipe, flow_id, f"{first_key}:{digest}")
        Counters.click(pipe, flow_id, step, token.url)
    replies = pipe.execute()
    first_of_message = bool(replies[0])
    first_of_link = bool(replies[link_reply]) if token.kind == "c" else first_of_message
    if first_of_message:
        pipe = rt.redis.pipeline(transaction=False)
        Counters.count_unique(pipe, flow_id, step, counter)
        pipe.execute()
    if not first_of_link:
        return False
    person_id = _person_of(rt, token)
    if not person_id:
        return False
    data: dict[str, Any] = {"participant_id": token.participant_id, "step_id": step, "flow_id": flow_id}
    if token.kind == "c":
        data["url"] = token.url
    rt.emit([Event(counter, person_id, data, source="tracking")])
    if token.kind == "c" and _has_link_actions(rt, flow_id, step, token.url):
        queueing.enqueue_link_actions(rt, flow_id, step, token.participant_id, person_id, token.url)
    return True


def _has_link_actions(rt: Runtime, flow_id: str, step_id: str, url: str) -> bool:
    """Does a click on ``url`` of the step do something in the CRM (:mod:`superflow.link_actions`)?"""
    try:
        flow = flows.get(rt, flow_id)
    except (flows.FlowNotFound, FlowInvalid, UnknownComponent):
        return False
    return link_actions.has_actions(flow.steps.get(step_id), url)


# A sealed token as it appears in an address: base64url, no shorter than the smallest seal.
TOKEN = rf"[A-Za-z0-9_-]{{{tracking.MIN_SEALED * 4 // 3},{tracking.MAX_TOKEN_CHARS}}}"
CLICK_URL = re.compile(r"""(?:https?://[^\s"'<>()]*?)?/t/c/(""" + TOKEN + r")")
PIXEL_IMG = re.compile(r"""(?i)<img\b[^>]*?/t/o/""" + TOKEN + r"""\.gif[^>]*>""")
PIXEL_URL = re.compile(r"""(?:https?://[^\s"'<>()]*?)?/t/o/""" + TOKEN + r"\.gif")


def for_viewing(body: str, secret: str, as_html: bool = True) -> str:
    """A sent message's body as an admin screen may show it: every tracked link
    replaced by the address it leads to (escaped for HTML when ``as_html``) and the
    open pixel removed, so that looking at it records no open and following its
    links no click.  A link whose token this server cannot open stays as it is (it
    would count nothing here either)."""

    def destination(match: re.Match[str]) -> str:
        try:
            url = tracking.open_token(secret, "c", match.group(1)).url
        except tracking.TokenInvalid:
            return match.group(0)
        return html.escape(url) if as_html else url

    body = PIXEL_IMG.sub("", body) if as_html else body
    body = PIXEL_URL.sub("", body)
    return CLICK_URL.sub(destination, body)


@bp.get("/t/c/<token>")
def click(token: str):
    rt = runtime()
    try:
        found = tracking.open_token(rt.config.secret_key, "c", token, _max_age(rt))
    except tracking.TokenInvalid as exc:
        return _not_valid(exc, "link")
    if not found.url.lower().startswith(("http://", "https://")):
        cause = "this link is not valid: it does not lead to a web address"
        return _not_valid(tracking.TokenInvalid(cause, 400), "link")
    if request.method == "GET":  # HEAD (link checkers) is no click
        try:
            record(rt, found)
        except Exception:  # the reader must get where they were going
            log.exception("could not record a click on %s", found.url)
    response = redirect(found.url, 302)
    response.headers.update(NO_STORE)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/t/o/<token>.gif")
def pixel(token: str):
    rt = runtime()
    try:
        found = tracking.open_token(rt.config.secret_key, "o", token, _max_age(rt))
    except tracking.TokenInvalid:
        found = None
    if found is not None and request.method == "GET":
        try:
            record(rt, found)
        except Exception:
            log.exception("could not record an open of %s", found.participant_id)
    return Response(PIXEL, 200, {**NO_STORE, "Content-Type": "image/gif"})


# -- unsubscribe ----------------------------------------------------------------


def _what(token: tracking.Token) -> str:
    return f"the {token.subscription} mailing" if token.subscription else "marketing email from us"


def withdraw(rt: Runtime, token: tracking.Token) -> str:
    """Withdraw the e-marketing consent (or cancel the token's subscription) in the CRM
    and emit ``email.unsubscribed``; returns ``"done"``, or ``"unknown"`` when the
    person is no longer in the CRM (there is nothing to withdraw then)."""
    crm = rt.crm
    person_id = _person_of(rt, token)
    if not person_id or crm.get_person(person_id) is None:
        return "unknown"
    if token.subscription:
        crm.set_subscription(person_id, token.subscription, False)
        withdrawn = {"subscription": token.subscription}
    else:
        crm.set_consent(person_id, "emarketing", False, legal_basis="unsubscribe link")
        withdrawn = {"purpose": "emarketing"}
    data = {"participant_id": token.participant_id, "step_id": token.step_id, "flow_id": token.flow_id}
    rt.emit([Event("email.unsubscribed", person_id, {**data, **withdrawn}, source="unsubscribe")])
    counters = Counters(rt.redis)
    if counters.is_first(token.flow_id, f"u:{token.participant_id}:{token.step_id}"):
        pipe = rt.redis.pipeline(transaction=False)
        counters.count(pipe, token.flow_id, token.step_id, "email.unsubscribed")
        pipe.execute()
    return "done"


@bp.get("/u/<token>")
def unsubscribe_page(token: str):
    rt = runtime()
    try:
        found = tracking.open_token(rt.config.secret_key, "u", token)
    except tracking.TokenInvalid as exc:
        return _not_valid(exc, "unsubscribe link")
    page = render_template("public/unsubscribe.html", state="ask", what=_what(found), token=token)
    return page, 200, NO_STORE


@bp.post("/u/<token>")
def unsubscribe(token: str):
    rt = runtime()
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK
    try:
        found = tracking.open_token(rt.config.secret_key, "u", token)
    except tracking.TokenInvalid as exc:
        if one_click:
            return Response(exc.cause, exc.status, {"Content-Type": "text/plain; charset=utf-8"})
        return _not_valid(exc, "unsubscribe link")
    try:
        state = withdraw(rt, found)
    except CrmError as exc:
        log.warning("unsubscribe of %s failed: %s", found.participant_id, exc)
        message = "we could not update your preferences just now; please try again in a few minutes"
        if one_click:
            return Response(message, 503, {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "300"})
        page = render_template(
            "public/unsubscribe.html", state="failed", what=_what(found), token=token, error=message
        )
        return page, 503, {**NO_STORE, "Retry-After": "300"}
    if one_click:
        return Response(
            f"Unsubscribed from {_what(found)}.", 200, {"Content-Type": "text/plain; charset=utf-8"}
        )
    page = render_template("public/unsubscribe.html", state=state, what=_what(found), token=token)
    return page, 200, NO_STORE
