"""What every part of the engine is built on: one runtime and the parts they share.

The engine's parts (:mod:`~superflow.enrolment`, :mod:`~superflow.stepping`,
:mod:`~superflow.scheduler`, :mod:`~superflow.lifecycle`) work on one process's
runtime and share its leases, its cache of compiled flows, its conditions and its
commits, so that a participant one part leases another sees as leased.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from superflow.commits import Commits
    from superflow.conditions import Conditions
    from superflow.leases import Leases
    from superflow.runtime import Runtime
    from superflow.versions import FlowVersions


@dataclass(frozen=True)
class Shared:
    """The runtime and the parts every part of one engine shares."""

    runtime: Runtime
    leases: Leases
    versions: FlowVersions
    conditions: Conditions
    commits: Commits


class EnginePart:
    """A part of the engine, with the runtime's store and registry and the shared
    leases (which :func:`~superflow.leases.holds_leases` gives back), compiled flows,
    conditions and commits at hand."""

    def __init__(self, shared: Shared) -> None:
        self.rt = shared.runtime
        self.store = shared.runtime.store
        self.registry = shared.runtime.registry
        self.leases = shared.leases
        self.versions = shared.versions
        self.conditions = shared.conditions
        self.commits = shared.commits
