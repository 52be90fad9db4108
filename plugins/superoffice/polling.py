"""The selection poll: SuperOffice sends no webhook when a person joins a static
selection, so every few minutes this asks which selections changed since the last round
(by their updated date, not a scan of all of them), compares each changed selection's
members with the mirror kept in Redis and emits ``selection.member_added`` for newcomers.

A selection seen for the first time is mirrored without events: its existing members did
not just join.  Members superflow itself adds are mirrored by the backend at once, so
they are not announced twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from superflow.components import PeriodicTask
from superflow.events import Event

from .backend import SOURCE, selection_key
from .ledger import PREFIX

SINCE_KEY = f"{PREFIX}:poll:selections:since"
KNOWN_KEY = f"{PREFIX}:selections"


class SelectionPoll(PeriodicTask):
    name = "superoffice_selections"
    label = "SuperOffice: new selection members"
    every_seconds: ClassVar[float] = 300.0

    def run(self, services: Any) -> str:
        if services.config.crm != "superoffice":
            return "skipped: the CRM is not SuperOffice"
        crm, conn = services.crm, services.redis
        started = datetime.fromtimestamp(services.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        since = conn.get(SINCE_KEY)
        where = f"updatedDate afterTime '{since}'" if since else ""
        changed = [
            str(row["selectionId"])
            for row in crm.client.query("Selection", "selection poll", ["selectionId", "updatedDate"], where)
        ]
        events: list[Event] = []
        for sid in changed:
            members = set(crm.selection_members(sid))
            first = not conn.sismember(KNOWN_KEY, sid)
            known = set() if first else set(conn.smembers(selection_key(sid)))
            pipe = conn.pipeline()
            pipe.delete(selection_key(sid))
            if members:
                pipe.sadd(selection_key(sid), *members)
            pipe.sadd(KNOWN_KEY, sid)
            pipe.execute()
            if not first:
                data = {"selection_id": sid}
                events += [
                    Event("selection.member_added", pid, data, source=SOURCE)
                    for pid in sorted(members - known)
                ]
        conn.set(SINCE_KEY, started)
        if events:
            services.emit(events)
        return f"{len(changed)} selection(s) changed, {len(events)} new member(s)"
