"""Triggers and success criteria on a record created for a person in the CRM (a sale,
a request, a follow-up), whoever created it: a flow or a colleague.

A plugin describes its record once, as a subclass of :class:`RecordCreated` (the
event, the filter's settings, how a record is matched and put in words), and makes
its trigger and its success criterion from that and :class:`RecordCreatedTrigger` /
:class:`RecordCreatedCriterion`, so the two always filter alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from superflow.components import SuccessCriterion
from superflow.components import Trigger

if TYPE_CHECKING:
    from superflow.events import Event
    from superflow.services import Services
    from superflow.store import Participant


class RecordCreated:
    """What a "<record> created" trigger and criterion share.  Subclasses set
    ``event_types`` (e.g. ``("sale.created",)``), ``settings_schema`` and ``category``,
    and implement :meth:`record_matches` and :meth:`describe_record`."""

    def record_matches(self, record: dict[str, Any], settings: dict[str, Any]) -> bool:
        """Does the created record (the event's data) pass the filter ``settings``?"""
        raise NotImplementedError

    def describe_record(self, settings: dict[str, Any]) -> str:
        """The records the filter lets through, in words: "a sale of type 'Renewal'"."""
        raise NotImplementedError


class RecordCreatedTrigger(RecordCreated, Trigger):
    """Suggests the person when a record passing the filter is created for them."""

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When {self.describe_record(settings)} is created"

    def matches(self, event: Event, settings: dict[str, Any], services: Services) -> bool:
        return self.record_matches(event.data, settings)


class RecordCreatedCriterion(RecordCreated, SuccessCriterion):
    """Success when a record passing the filter is created for the person."""

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When {self.describe_record(settings)} is created for the person"

    def matches(
        self, event: Event, settings: dict[str, Any], participant: Participant, services: Services
    ) -> bool:
        return self.record_matches(event.data, settings)
