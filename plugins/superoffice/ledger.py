"""What the SuperOffice backend remembers in Redis, under ``sf:superoffice:*``.

SuperOffice has no idempotency keys of its own, so the backend keeps them: the result
of every write by its key (a write seen again returns it and changes nothing), a
"pending" mark while a create is in flight (so a create retried after a crash looks for
the record it may already have made), the last values seen of each person (so a
``person.changed`` webhook, which names fields but carries no values, becomes
``person.updated`` with ``[old, new]``), and marks for events already emitted (so the
webhook echo of superflow's own write, or a redelivered webhook, is not emitted twice).
"""

from __future__ import annotations

import json
from typing import Any

import redis

PREFIX = "sf:superoffice"
DONE_TTL = 90 * 86400
PENDING_TTL = 86400
SNAPSHOT_TTL = 400 * 86400
MARK_TTL = 14 * 86400


class Ledger:
    def __init__(self, conn: redis.Redis) -> None:
        self.redis = conn

    # -- idempotency ------------------------------------------------------------
    def result(self, key: str | None) -> tuple[bool, Any]:
        """``(True, result)`` if a write with this key was applied before."""
        if key is None:
            return False, None
        raw = self.redis.get(f"{PREFIX}:done:{key}")
        return (False, None) if raw is None else (True, json.loads(raw))

    def begin(self, key: str | None) -> bool:
        """Mark a create as in flight; True if it was already (a crash left it so)."""
        if key is None:
            return False
        return not self.redis.set(f"{PREFIX}:pending:{key}", "1", nx=True, ex=PENDING_TTL)

    def record(self, key: str | None, result: Any) -> None:
        if key is None:
            return
        pipe = self.redis.pipeline()
        pipe.set(f"{PREFIX}:done:{key}", json.dumps(result), ex=DONE_TTL)
        pipe.delete(f"{PREFIX}:pending:{key}")
        pipe.execute()

    # -- what persons looked like ---------------------------------------------------
    def snapshot(self, person_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(f"{PREFIX}:person:{person_id}")
        return None if raw is None else json.loads(raw)

    def remember(self, person_id: str, values: dict[str, Any]) -> None:
        self.redis.set(f"{PREFIX}:person:{person_id}", json.dumps(values, default=str), ex=SNAPSHOT_TTL)

    # -- events already emitted ---------------------------------------------------
    def first_time(self, mark: str, ttl: int = MARK_TTL) -> bool:
        """True the first time ``mark`` is seen (SET NX): emit then, and only then."""
        return bool(self.redis.set(f"{PREFIX}:{mark}", "1", nx=True, ex=ttl))

    def forget(self, mark: str) -> None:
        self.redis.delete(f"{PREFIX}:{mark}")
