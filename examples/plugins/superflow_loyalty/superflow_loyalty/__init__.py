"""superflow-loyalty: loyalty points in superflow flows.

A third-party superflow plugin that uses nothing but the hooks:

- the step type ``award_points`` ("Award loyalty points") adds points to a number
  field of the person in the CRM, for a whole batch of participants in one call;
- the trigger ``points_reached`` suggests a person when their points cross a
  threshold;
- the success criterion ``tier_reached`` says the flow has done its job once the
  person has at least so many points;
- ``superflow_participant_finished`` logs every participation that ends.

The CRM field must exist and hold a number (with the built-in local CRM:
``crm.define_field("loyalty_points", "Loyalty points", "number")``).
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import CrmError
from superflow import Services
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import SuccessCriterion
from superflow import Trigger
from superflow import hookimpl

log = logging.getLogger(__name__)

DEFAULT_FIELD = "loyalty_points"


def points_of(value: Any) -> int | float:
    """A field value as points: a missing or non-numeric value counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return value


def field_problems(settings: dict[str, Any]) -> list[str]:
    """Readiness of a ``field`` setting: it must be a plain field key."""
    name = settings.get("field", DEFAULT_FIELD)
    if not isinstance(name, str) or not name.isidentifier():
        return [f"field: {name!r} is not a valid field name (use letters, digits and _)"]
    return []


class FieldSetting(Schema):
    field = fields.String(
        load_default=DEFAULT_FIELD,
        metadata={
            "label": "Points field",
            "help": "The person's number field that holds the points",
            "widget": "crm_field",
        },
    )


class AwardPointsSettings(FieldSetting):
    points = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={"label": "Points", "help": "How many points to add (1 or more)"},
    )


class ThresholdSettings(FieldSetting):
    threshold = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={"label": "Threshold", "help": "The number of points that counts"},
    )


class AwardPoints(StepType):
    name = "award_points"
    label = "Award loyalty points"
    category = "Loyalty"
    description = "Add loyalty points to a number field of the person."
    settings_schema = AwardPointsSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return field_problems(settings)

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Award {settings.get('points', '?')} points ({settings.get('field', DEFAULT_FIELD)})"

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        updates = []
        for ctx in ctxs:
            field = ctx.settings["field"]
            current = points_of(((ctx.person or {}).get("fields") or {}).get(field))
            new_value = current + ctx.settings["points"]
            updates.append((ctx.participant.person_id, {field: new_value}, ctx.idempotency_key))
        try:
            # One CRM call for the whole batch.  The idempotency key makes a second
            # run of this step for a participant (after a crash) change nothing.
            ctxs[0].crm.update_persons(updates)
        except CrmError as exc:
            # The CRM refused (unknown field, not a number): that will not fix
            # itself, so leave the flow.  Other exceptions (network) propagate and
            # the engine retries the step later.
            return [StepResult.exit(f"points not awarded: {exc}") for _ in ctxs]
        return [
            StepResult.advance(
                f"awarded {ctx.settings['points']} points",
                counters={"loyalty.points": ctx.settings["points"]},
            )
            for ctx in ctxs
        ]


class PointsReached(Trigger):
    name = "points_reached"
    label = "Loyalty points reached"
    category = "Loyalty"
    description = "When a person's points go from below the threshold to at least the threshold."
    event_types = ("person.updated",)
    settings_schema = ThresholdSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return field_problems(settings)

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When {settings.get('field', DEFAULT_FIELD)} reaches {settings.get('threshold', '?')}"

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        change = (event.data.get("changes") or {}).get(settings["field"])
        if not change:
            return False
        old, new = change
        return points_of(old) < settings["threshold"] <= points_of(new)


class TierReached(SuccessCriterion):
    name = "tier_reached"
    label = "Loyalty tier reached"
    category = "Loyalty"
    description = "The person has at least the threshold in points."
    event_types = ("person.updated",)
    settings_schema = ThresholdSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return field_problems(settings)

    def describe(self, settings: dict[str, Any]) -> str:
        return f"When {settings.get('field', DEFAULT_FIELD)} is at least {settings.get('threshold', '?')}"

    def matches(self, event: Any, settings: dict[str, Any], participant: Any, services: Services) -> bool:
        change = (event.data.get("changes") or {}).get(settings["field"])
        return bool(change) and points_of(change[1]) >= settings["threshold"]

    def holds(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        value = (person.get("fields") or {}).get(settings["field"])
        return points_of(value) >= settings["threshold"]


@hookimpl
def superflow_register_step_types(register):
    register(AwardPoints())


@hookimpl
def superflow_register_triggers(register):
    register(PointsReached())


@hookimpl
def superflow_register_success_criteria(register):
    register(TierReached())


@hookimpl
def superflow_participant_finished(participant, status, reason):
    log.info(
        "participant %s (person %s) of flow %s finished: %s%s",
        participant.id,
        participant.person_id,
        participant.flow_id,
        status,
        f" ({reason})" if reason else "",
    )
