"""The selection poll: SuperOffice sends no webhook when a person joins a selection, so
every few minutes this asks which selections' members changed since the last round, compares
their members with the mirror kept in Redis and emits ``selection.member_added`` for
newcomers.

Static selections are found by their ``lastMembershipChange`` / ``updatedDate`` columns
(GET Selection, the "FindSelection" archive: docs/en/api/archive-providers/reference/findselection.md).
A dynamic or combined selection's members change when the data its criteria look at
changes, which stamps nothing on the selection, so those already mirrored are read again
every round.  Members are read with GET Selection/{id}/Members, which serves every kind
(docs/en/api/reference/restful/rest/Selection/v1SelectionEntity_GetSelectionMembersArchiveRows.md).

A selection seen for the first time is mirrored without events: its existing members did
not just join.  Members superflow itself adds are mirrored by the backend at once, so
they are not announced twice.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any
from typing import ClassVar

from superflow import Event
from superflow import PeriodicTask
from superflow import Services

from .backend import SOURCE
from .backend import selection_key
from .ledger import NAMESPACE
from .mapping import list_value


class SelectionPoll(PeriodicTask):
    name = "superoffice_selections"
    label = "SuperOffice: new selection members"
    every_seconds: ClassVar[float] = 300.0

    def run(self, services: Services) -> str:
        if services.config.crm != "superoffice":
            return "skipped: the CRM is not SuperOffice"
        crm, store = services.crm, services.plugin_store(NAMESPACE)
        conn = store.redis
        since_key, known_key = store.key("poll", "selections", "since"), store.key("selections")
        dynamic_key = store.key("selections", "dynamic")
        started = datetime.fromtimestamp(services.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        since = conn.get(since_key)
        where = (
            f"lastMembershipChange afterTime '{since}' or updatedDate afterTime '{since}'" if since else ""
        )
        columns = ["selectionId", "kind", "lastMembershipChange", "updatedDate"]
        rows = list(crm.client.query("Selection", "selection poll", columns, where))
        changed = [str(row["selectionId"]) for row in rows]
        for row in rows:
            sid = str(row["selectionId"])
            if is_static(row.get("kind")):
                conn.srem(dynamic_key, sid)
            else:
                conn.sadd(dynamic_key, sid)
        dynamic = sorted((s for s in conn.smembers(dynamic_key) or () if s not in changed), key=int)
        events: list[Event] = []
        for sid in changed + dynamic:
            members = set(crm.selection_members(sid))
            first = not conn.sismember(known_key, sid)
            known = set() if first else set(conn.smembers(selection_key(store, sid)))
            pipe = conn.pipeline()
            pipe.delete(selection_key(store, sid))
            if members:
                pipe.sadd(selection_key(store, sid), *members)
            pipe.sadd(known_key, sid)
            pipe.execute()
            if not first:
                data = {"selection_id": sid}
                events += [
                    Event("selection.member_added", pid, data, source=SOURCE)
                    for pid in sorted(members - known)
                ]
        conn.set(since_key, started)
        if events:
            services.emit(events)
        return (
            f"{len(changed)} selection(s) changed, {len(dynamic)} dynamic read again,"
            f" {len(events)} new member(s)"
        )


def is_static(kind: Any) -> bool:
    """The FindSelection ``kind`` column ("static", "dynamic" or "combined"; a list column,
    so its display text, which may be localised: Statisk, Statisch ...).  Anything else
    counts as dynamic, which costs a read per round but never misses a member."""
    return str(list_value(kind) or "").strip().lower().startswith("stati")
