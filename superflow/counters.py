"""The only writer of report counters: the ``:stats``, ``:daily:``, ``:seen`` and ``:links:`` hashes.

Reports read counters kept at write time, never a scan over participants, so every
count has to land in the same pipeline or MULTI/EXEC as the work it counts.  Each
write here therefore queues its commands on the ``pipe`` it is given and sends
nothing itself; only :meth:`Counters.is_first` asks Redis, because its answer decides
what the caller does next.  The fields are those of ``docs/redis-keys.md``: a flow
total per counter name, the same per step as ``step:<step id>:<name>``, ``.unique``
for the first of each message, and the firsts themselves in ``sf:flow:<id>:seen``.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

from superflow import keys


def step_field(step_id: str, name: str) -> str:
    """The field of a step's own counter ``name`` in the flow's stats."""
    return f"step:{step_id}:{name}"


class Counters:
    """Report counters on one Redis connection.

    ``pipe`` is a pipeline (transactional or not) or the connection itself; a
    pipeline keeps the count in the caller's round trip.
    """

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    @staticmethod
    def count(pipe: redis.Redis, flow_id: str, step_id: str, name: str, n: int = 1) -> None:
        """Count ``n`` of ``name`` at a step: the flow's total and the step's own field."""
        stats = keys.flow_stats(flow_id)
        pipe.hincrby(stats, name, n)
        pipe.hincrby(stats, step_field(step_id, name), n)

    @staticmethod
    def count_unique(pipe: redis.Redis, flow_id: str, step_id: str, name: str) -> None:
        """Count the first ``name`` of a message (``<name>.unique``), in total and per step."""
        Counters.count(pipe, flow_id, step_id, f"{name}.unique")

    @staticmethod
    def add(pipe: redis.Redis, flow_id: str, deltas: Mapping[str, int]) -> None:
        """Add each delta to its field of the flow's stats as it is named (``enrolled``,
        ``at:<step>``, ``step:<step>:email.sent``...); zeros are not sent."""
        stats = keys.flow_stats(flow_id)
        for name, delta in deltas.items():
            if delta:
                pipe.hincrby(stats, name, delta)

    @staticmethod
    def add_daily(pipe: redis.Redis, flow_id: str, day: str, deltas: Mapping[str, int]) -> None:
        """Add to the flow's counters of one UTC day (``YYYY-MM-DD``): the reports' time series."""
        daily = keys.flow_daily(flow_id, day)
        for name, delta in deltas.items():
            pipe.hincrby(daily, name, delta)

    @staticmethod
    def first(pipe: redis.Redis, flow_id: str, first_key: str) -> None:
        """Queue the mark of a first (``o:<pid>:<step>``, ``r:<reference>:<kind>``...);
        its reply is 1 when this was the first, 0 when it was seen before."""
        pipe.hsetnx(keys.flow_seen(flow_id), first_key, 1)

    def is_first(self, flow_id: str, first_key: str) -> bool:
        """Mark a first now, and say whether it was one."""
        return bool(self.conn.hsetnx(keys.flow_seen(flow_id), first_key, 1))

    @staticmethod
    def click(pipe: redis.Redis, flow_id: str, step_id: str, url: str) -> None:
        """Count a click on ``url`` of the step's email (the report of its links)."""
        pipe.hincrby(keys.flow_links(flow_id, step_id), url, 1)

    @staticmethod
    def count_form(pipe: redis.Redis, form_id: str, name: str, n: int = 1) -> None:
        """Count ``name`` (``submitted``, ``spam``, ``confirmed``...) for a hosted form."""
        pipe.hincrby(keys.form_stats(form_id), name, n)

    def form_totals(self, form_ids: list[str]) -> dict[str, dict[str, int]]:
        """What :meth:`count_form` counted for each form, in one round trip."""
        pipe = self.conn.pipeline(transaction=False)
        for form_id in form_ids:
            pipe.hgetall(keys.form_stats(form_id))
        replies = pipe.execute() if form_ids else []
        return {
            form_id: {name: int(value) for name, value in raw.items()}
            for form_id, raw in zip(form_ids, replies, strict=True)
        }
