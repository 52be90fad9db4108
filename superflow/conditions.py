"""Whether a flow's conditions hold for a person: its filters and its success criteria.

The engine asks before it enrols and before each step; the designer's filter preview
asks the same questions of the CRM's persons, so both count alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from superflow.participant_view import ParticipantView
from superflow.versions import LoadedSettings

if TYPE_CHECKING:
    from superflow.events import Event
    from superflow.flow import Flow
    from superflow.registry import Registry
    from superflow.services import Services
    from superflow.store import Participant


class Conditions:
    """Filters and success criteria evaluated with the registry's components, which
    are handed ``services``; ``settings`` loads a part's settings (the engine shares
    its cache of them)."""

    def __init__(
        self,
        registry: Registry,
        services: Services,
        settings: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.registry = registry
        self.services = services
        self.settings = settings if settings is not None else LoadedSettings()

    def filters_pass(
        self, group: dict[str, Any], person: dict[str, Any], participant: Participant | None
    ) -> bool:
        """Evaluate a filter group (AND/OR, nested) on a person; empty passes."""
        results = []
        for cond in group.get("conditions", []):
            if "op" in cond:
                results.append(self.filters_pass(cond, person, participant))
            else:
                results.append(self.condition(cond, person, participant))
        if not results:
            return True
        return any(results) if group.get("op") == "or" else all(results)

    def condition(
        self, ref: dict[str, Any] | None, person: dict[str, Any] | None, participant: Participant | None
    ) -> bool:
        """One filter on a person (no filter passes; no person fails)."""
        if ref is None:
            return True
        if person is None:
            return False
        filt = self.registry.filter(ref["type"])
        return bool(filt.matches(person, self.settings(filt, ref), _view(participant), self.services))

    def criterion_met(self, flow: Flow, event: Event, p: Participant) -> bool:
        """The event meets one of the flow's success criteria (once per participation)."""
        if p.succeeded:
            return False
        view = None
        for ref in flow.doc["success"]["criteria"]:
            criterion = self.registry.criterion(ref["type"])
            if event.type not in criterion.event_types:
                continue
            view = view or ParticipantView.of(p)
            if criterion.matches(event, self.settings(criterion, ref), view, self.services):
                return True
        return False

    def goal_holds(self, flow: Flow, person: dict[str, Any], p: Participant) -> bool:
        """A success criterion holds for the person as they are now (a state, not an event)."""
        view = ParticipantView.of(p)
        for ref in flow.doc["success"]["criteria"]:
            criterion = self.registry.criterion(ref["type"])
            if criterion.holds(person, self.settings(criterion, ref), view, self.services):
                return True
        return False


def _view(participant: Participant | ParticipantView | None) -> ParticipantView | None:
    """What a component is shown of a participant: a read-only view, never the engine's record."""
    if participant is None or isinstance(participant, ParticipantView):
        return participant
    return ParticipantView.of(participant)
