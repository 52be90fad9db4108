"""The flow versions a process has compiled, and their parts' loaded settings.

Versions never change once saved, so each is read and compiled once per process;
events and steps ask for the same trigger, filter and criterion settings again and
again, so those are loaded once per compiled version too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from superflow import keys
from superflow import store
from superflow.flow import Flow
from superflow.flow import parse_flow
from superflow.flow import settings_of

if TYPE_CHECKING:
    import redis

    from superflow.registry import Registry


class LoadedSettings:
    """A flow part's loaded settings, by the ``{type, settings}`` dict of a compiled
    flow that holds them (the dict is kept, so its id is never reused)."""

    def __init__(self) -> None:
        self._loaded: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}

    def __call__(self, component: Any, ref: dict[str, Any]) -> dict[str, Any]:
        hit = self._loaded.get(id(ref))
        if hit is None or hit[0] is not ref:
            hit = (ref, settings_of(component, ref["settings"]))
            self._loaded[id(ref)] = hit
        return hit[1]


class FlowVersions:
    """Compiled flow versions, their exit event types and loaded settings, and the
    flows' current states (read fresh)."""

    def __init__(self, conn: redis.Redis, flows: store.Store, registry: Registry) -> None:
        self.conn = conn
        self.store = flows
        self.registry = registry
        self.settings = LoadedSettings()
        self._compiled: dict[tuple[str, int], Flow | None] = {}
        self._exits: dict[tuple[str, int], set[str]] = {}

    def flow(self, flow_id: str, version: int) -> Flow | None:
        """A compiled flow version (versions never change, so they are cached)."""
        key = (flow_id, version)
        if key not in self._compiled:
            doc = self.store.flow_doc(flow_id, version)
            self._compiled[key] = (
                None if doc is None else parse_flow(doc, self.registry, flow_id=flow_id, version=version)
            )
        return self._compiled[key]

    def states(self, flow_ids: set[str]) -> dict[str, tuple[str, int]]:
        """``{flow_id: (status, current version)}`` read fresh."""
        ids = sorted(flow_ids)
        pipe = self.conn.pipeline(transaction=False)
        for fid in ids:
            pipe.hmget(keys.flow(fid), "status", "version")
        states = {}
        for fid, (status, version) in zip(ids, pipe.execute(), strict=True):
            if status is not None:
                states[fid] = (status, int(version))
        return states

    def exit_types(self, flow: Flow) -> set[str]:
        """The event types that end a participation in this flow: those of its steps'
        ``exits_on`` (an unsubscribe, for a flow that sends email)."""
        key = (flow.id, flow.version)
        if key not in self._exits:
            self._exits[key] = {
                t for step in flow.steps.values() for t in self.registry.step_type(step["type"]).exits_on
            }
        return self._exits[key]
