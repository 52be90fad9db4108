"""What the SuperOffice backend remembers in Redis, in its plugin store ``sf:superoffice:*``.

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

from superflow import PluginStore

NAMESPACE = "superoffice"
DONE_TTL = 90 * 86400
PENDING_TTL = 86400
SNAPSHOT_TTL = 400 * 86400
MARK_TTL = 14 * 86400


class Ledger:
    def __init__(self, store: PluginStore) -> None:
        self.store = store

    # -- idempotency ------------------------------------------------------------
    def result(self, key: str | None) -> tuple[bool, Any]:
        """``(True, result)`` if a write with this key was applied before."""
        if key is None:
            return False, None
        raw = self.store.get(f"done:{key}")
        return (False, None) if raw is None else (True, json.loads(raw))

    def begin(self, key: str | None) -> bool:
        """Mark a create as in flight; True if it was already (a crash left it so)."""
        if key is None:
            return False
        return not self.store.set(f"pending:{key}", "1", ttl=PENDING_TTL, only_if_new=True)

    def record(self, key: str | None, result: Any) -> None:
        if key is None:
            return
        pipe = self.store.redis.pipeline()
        pipe.set(self.store.key("done", key), json.dumps(result), ex=DONE_TTL)
        pipe.delete(self.store.key("pending", key))
        pipe.execute()

    # -- what persons looked like ---------------------------------------------------
    def snapshot(self, person_id: str) -> dict[str, Any] | None:
        raw = self.store.get(f"person:{person_id}")
        return None if raw is None else json.loads(raw)

    def remember(self, person_id: str, values: dict[str, Any]) -> None:
        self.store.set(f"person:{person_id}", json.dumps(values, default=str), ttl=SNAPSHOT_TTL)

    # -- events already emitted ---------------------------------------------------
    def first_time(self, mark: str, ttl: int = MARK_TTL) -> bool:
        """True the first time ``mark`` is seen (SET NX): emit then, and only then."""
        return self.store.set(mark, "1", ttl=ttl, only_if_new=True)

    def forget(self, mark: str) -> None:
        self.store.delete(mark)
