"""Steps in trouble: who is retrying a step, who left the flow because it kept
failing, why — and an email to the flow's administrators when a step starts failing.

How many participants are retrying a step now and how many failed it are flow
counters (``retrying:<step>``, ``failed:<step>`` in ``sf:flow:<id>:stats``, written
through :meth:`superflow.store.Changes.count`).  The reasons and the alerts are
kept here.  Keys (this module owns them):

- ``sf:trouble:<flow>:<step>:recent`` — sorted set: the last :data:`KEEP_REASONS`
  distinct reasons, scored by when each was last seen.
- ``sf:trouble:<flow>:<step>:counts`` — hash: reason → how often it was seen (only
  the reasons still in ``recent``).
- ``sf:trouble:<flow>:<step>:alerted`` — string, set for :data:`ALERT_EVERY` seconds
  when the flow's administrators were emailed about the step.

Both reason keys are written in the round's MULTI/EXEC (one EVAL per step in
trouble, never per participant) and expire :data:`KEEP_SECONDS` after the step last
failed.  The alert is sent after the commit; it never fails the round.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import ValidationError
from marshmallow import validate

from superflow import keys

if TYPE_CHECKING:
    import redis
    from redis.client import Pipeline

    from superflow.runtime import Runtime

log = logging.getLogger(__name__)

KEEP_REASONS = 5
KEEP_SECONDS = 30 * 86400
#: At most one email to the administrators per flow step in this many seconds.
ALERT_EVERY = 3600
MAX_REASON = 200

# KEYS: recent, counts.  ARGV: now, keep, ttl, then reason, count pairs.
RECORD_SCRIPT = """
for i = 4, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
end
local old = redis.call('ZRANGE', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

_EXCEPTION_NAME = re.compile(r"\b(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Failure|Exit)\b:?\s*")
# "… in /srv/superflow/data/attachments": where on the server, which a marketer cannot use.
_SERVER_PATH = re.compile(r"\s+in\s+(?:[A-Za-z]:)?[/\\][^\s'\"]*$")


def retrying_counter(step_id: str) -> str:
    """The flow counter of the participants waiting to try ``step_id`` again."""
    return f"retrying:{step_id}"


def failed_counter(step_id: str) -> str:
    """The flow counter of the participants that left the flow at ``step_id``
    because it kept failing."""
    return f"failed:{step_id}"


def in_words(reason: str) -> str:
    """A step's failure as a marketer reads it: no "will retry:" prefix, no Python
    exception names, a capital first letter ("Email not sent: 451 try again later")."""
    text = reason.strip().removeprefix("will retry:").strip()
    text = _SERVER_PATH.sub("", _EXCEPTION_NAME.sub("", text)).strip()
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1].rstrip() + "…"
    return text[:1].upper() + text[1:] if text else "The step failed"


@dataclass
class _Step:
    flow_name: str
    step_label: str
    reasons: Counter[str] = field(default_factory=Counter)
    failed: int = 0


@dataclass
class Trouble:
    """The failures of one round of engine work, by flow step; kept in the round's
    :class:`~superflow.store.Changes` and written with it."""

    steps: dict[tuple[str, str], _Step] = field(default_factory=dict)
    at: float = 0.0

    def add(
        self, flow_id: str, step_id: str, reason: str, now: float, *, flow_name: str, step_label: str
    ) -> None:
        """One participant failed the step in this round, for ``reason``."""
        self.at = max(self.at, now)
        entry = self.steps.get((flow_id, step_id))
        if entry is None:
            entry = self.steps[(flow_id, step_id)] = _Step(flow_name, step_label)
        entry.reasons[in_words(reason)] += 1

    def failed(self, flow_id: str, step_id: str) -> None:
        """One participant of this round left the flow at the step (after ``add``)."""
        self.steps[(flow_id, step_id)].failed += 1

    def write(self, pipe: Pipeline) -> None:
        """Queue the reasons on ``pipe`` (already in MULTI)."""
        at = round(self.at or time.time(), 3)
        for (flow_id, step_id), entry in self.steps.items():
            args: list[Any] = [at, KEEP_REASONS, KEEP_SECONDS]
            for reason, count in entry.reasons.items():
                args += [reason, count]
            trouble = [keys.trouble_recent(flow_id, step_id), keys.trouble_counts(flow_id, step_id)]
            pipe.eval(RECORD_SCRIPT, 2, *trouble, *args)


def step_trouble(
    conn: redis.Redis, flow_id: str, step_ids: list[str], stats: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """For each step of ``step_ids``: ``retrying`` and ``failed`` (from ``stats``,
    the flow's counters as read) and ``reasons`` — the latest distinct reasons, newest
    first, each ``{"reason", "count", "last_seen"}``.  One round trip for the flow."""
    pipe = conn.pipeline(transaction=False)
    for sid in step_ids:
        pipe.zrevrange(keys.trouble_recent(flow_id, sid), 0, -1, withscores=True)
        pipe.hgetall(keys.trouble_counts(flow_id, sid))
    found = pipe.execute() if step_ids else []
    result: dict[str, dict[str, Any]] = {}
    for n, sid in enumerate(step_ids):
        recent, counts = found[2 * n], found[2 * n + 1]
        result[sid] = {
            "retrying": max(0, stats.get(retrying_counter(sid), 0)),
            "failed": stats.get(failed_counter(sid), 0),
            "reasons": [
                {"reason": reason, "count": int(counts.get(reason, 0)), "last_seen": seen}
                for reason, seen in recent
            ],
        }
    return result


def troubled(steps: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Only the steps with participants retrying or failed."""
    return {sid: t for sid, t in steps.items() if t["retrying"] or t["failed"]}


def summary(entry: dict[str, Any]) -> str:
    """ "3 retrying · 1 failed" (the parts that are not zero)."""
    parts = []
    if entry["retrying"]:
        parts.append(f"{entry['retrying']:,} retrying")
    if entry["failed"]:
        parts.append(f"{entry['failed']:,} failed")
    return " · ".join(parts)


# -- the administrators' alert -------------------------------------------------
def recipients(rt: Runtime, flow_id: str) -> list[str]:
    """Who hears about a failing step: the flow's creator and every active flow
    administrator whose user name is an email address, and the addresses of the
    ``SUPERFLOW_FAILURE_ALERTS_TO`` setting (comma-separated)."""
    from superflow import users

    creator = (rt.store.flow_meta(flow_id).get("created_by") or "").lower()
    found: list[str] = []
    for user in users.list_users(rt.redis):
        name = str(user.get("username") or "")
        if users.active(user) and (user.get("role") == "flow_admin" or name.lower() == creator):
            found.append(name)
    found += [a.strip() for a in rt.config.setting("failure_alerts_to").split(",")]
    addresses: list[str] = []
    for address in found:
        try:
            validate.Email()(address)
        except ValidationError:
            continue
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    return addresses


def alert_admins(rt: Runtime, trouble: Trouble) -> int:
    """Email the administrators of each flow with a step that failed in this round,
    at most once per flow step per :data:`ALERT_EVERY` seconds; returns how many
    emails went out.  Called after the round's commit: every error is logged, none
    raised."""
    if not trouble.steps:
        return 0
    sent = 0
    try:
        pipe = rt.redis.pipeline(transaction=False)
        for flow_id, step_id in trouble.steps:
            pipe.set(keys.trouble_alerted(flow_id, step_id), str(int(time.time())), nx=True, ex=ALERT_EVERY)
        claimed = pipe.execute()
    except Exception:
        log.exception("could not check whether the administrators were told about failing steps")
        return 0
    by_flow: dict[str, list[tuple[str, _Step]]] = defaultdict(list)
    for ((flow_id, step_id), entry), first in zip(trouble.steps.items(), claimed, strict=True):
        if first:
            by_flow[flow_id].append((step_id, entry))
    for flow_id, steps in by_flow.items():
        for step_id, entry in steps:
            try:
                sent += _send_alert(rt, flow_id, step_id, entry)
            except Exception:
                log.exception("could not email the administrators of flow %s about a failing step", flow_id)
    return sent


def _send_alert(rt: Runtime, flow_id: str, step_id: str, entry: _Step) -> int:
    from superflow.channels import EmailMessage
    from superflow.channels import PermanentFailure

    to = recipients(rt, flow_id)
    if not to:
        log.warning(
            "step %r of flow %r is failing (%s) and nobody can be told: no flow administrator has an "
            "email address as user name, and SUPERFLOW_FAILURE_ALERTS_TO is not set",
            entry.step_label,
            entry.flow_name,
            entry.reasons.most_common(1)[0][0],
        )
        return 0
    link = f"{rt.config.base_url.rstrip('/')}/flows/{flow_id}/chart"
    reasons = "\n".join(f"- {reason} ({count}×)" for reason, count in entry.reasons.most_common())
    people = sum(entry.reasons.values())
    what = (
        f"{people} participant{'s' if people != 1 else ''} could not get past "
        f"{entry.step_label} of flow “{entry.flow_name}”"
    )
    if entry.failed >= people:
        then = "They left the flow after too many tries."
    elif entry.failed:
        then = f"{entry.failed} of them left the flow after too many tries; the others will be tried again."
    else:
        then = "They will be tried again."
    text = (
        f"{what}:\n\n{reasons}\n\n{then}\n\n"
        f"See the flow: {link}\n\n"
        f"You get this email at most once an hour for this step."
    )
    html_text = "".join(f"<p>{_escape(part)}</p>" for part in text.split("\n\n"))
    sender = rt.config.setting("notify_from", "superflow@localhost")
    hour = int(time.time() // ALERT_EVERY)
    messages = [
        (
            EmailMessage(
                to=address,
                subject=f"Flow “{entry.flow_name}”: {entry.step_label} is failing",
                html=html_text,
                text=text,
                from_address=sender,
                from_name="Superflow",
            ),
            f"alert:{flow_id}:{step_id}:{hour}:{address.lower()}",
        )
        for address in to
    ]
    ids = rt.email.send_many(messages)
    refused = [m.to for (m, _), i in zip(messages, ids, strict=True) if isinstance(i, PermanentFailure)]
    if refused:
        log.warning("the failing-step alert for flow %s was refused for %s", flow_id, ", ".join(refused))
    return len(messages) - len(refused)


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")
