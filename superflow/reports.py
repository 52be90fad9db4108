"""A flow's report, read from the counters the engine keeps at write time.

Nothing here walks participants: every figure is a hash field (``sf:flow:<id>:stats``
and one ``sf:flow:<id>:daily:<day>`` hash per day), so a report costs the same for a
flow of ten participants and one of ten million.  The JSON API and the admin's
Reports tab both read it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from typing import Any

from superflow import failures
from superflow import keys

if TYPE_CHECKING:
    from superflow.flow import Flow
    from superflow.runtime import Runtime

MAX_DAYS = 366

EMAIL_FIGURES = (
    ("sent", "Sent", "email.sent"),
    ("opened", "Opened", "email.opened.unique"),
    ("clicked", "Clicked", "link.clicked.unique"),
    ("unsubscribed", "Unsubscribed", "email.unsubscribed"),
    ("bounced", "Bounced", "email.bounced"),
    ("failed", "Failed", "email.failed"),
)
SMS_FIGURES = (
    ("sent", "Sent", "sms.sent"),
    ("delivered", "Delivered", "sms.delivered"),
    ("failed", "Failed", "sms.failed"),
    ("segments", "Segments", "sms.segments"),
)


def days_between(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=n) for n in range((until - since).days + 1)]


def flow_report(rt: Runtime, flow: Flow, since: dt.date, until: dt.date) -> dict[str, Any]:
    """Totals, per-step counts (with who is retrying or failed the step, and why),
    the steps in trouble, exits, branches, channel figures and a day-by-day
    series (UTC days, ``since`` to ``until`` inclusive); ``stats`` is the counters hash
    as read, for screens that show its per-step fields."""
    stats = rt.store.stats(flow.id)
    order = sorted(flow.steps, key=flow.number.get)
    trouble = failures.step_trouble(rt.redis, flow.id, order, stats)
    steps = []
    for sid in order:
        prefix = f"step:{sid}:"
        steps.append(
            {
                "id": sid,
                "label": flow.step_label(sid, rt.registry),
                "type": flow.steps[sid]["type"],
                "at": stats.get(f"at:{sid}", 0),
                "passed": stats.get(f"passed:{sid}", 0),
                "counters": {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)},
                **trouble[sid],
            }
        )
    days = days_between(since, until)
    pipe = rt.redis.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(keys.flow_daily(flow.id, day.isoformat()))
    daily = [
        {"day": day.isoformat(), "counters": {k: int(v) for k, v in counts.items()}}
        for day, counts in zip(days, pipe.execute(), strict=True)
    ]
    enrolled = stats.get("enrolled", 0)
    sent = stats.get("email.sent", 0)
    return {
        "flow_id": flow.id,
        "stats": stats,
        "totals": {k: v for k, v in stats.items() if ":" not in k},
        "success_rate": stats.get("succeeded", 0) / enrolled if enrolled else None,
        "steps": steps,
        "trouble": [s for s in steps if s["retrying"] or s["failed"]],
        "exits": {k[5:]: v for k, v in stats.items() if k.startswith("exit:")},
        "branches": {k[7:]: v for k, v in stats.items() if k.startswith("branch:")},
        "daily": daily,
        "email": {key: stats.get(counter, 0) for key, _, counter in EMAIL_FIGURES}
        | {"delivered": max(0, sent - stats.get("email.bounced", 0))},
        "sms": {key: stats.get(counter, 0) for key, _, counter in SMS_FIGURES},
    }


def success_rate_series(daily: list[dict[str, Any]]) -> list[float | None]:
    """The cumulative success rate at the end of each day of ``daily``."""
    enrolled = succeeded = 0
    rates: list[float | None] = []
    for day in daily:
        enrolled += day["counters"].get("enrolled", 0)
        succeeded += day["counters"].get("succeeded", 0)
        rates.append(succeeded / enrolled if enrolled else None)
    return rates
