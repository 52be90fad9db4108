"""A first superflow plugin: the "Tag the person" step adds a word to a person's tags field."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import CrmError
from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import hookimpl
from superflow import person_value


class TagSettings(Schema):
    tag = fields.String(
        required=True,
        validate=validate.Regexp(r"^[\w-]{1,40}$", error="one word of letters, digits, _ or -"),
        metadata={"label": "Tag", "help": "The word to add, e.g. webinar-2026"},
    )
    field = fields.String(
        load_default="tags",
        metadata={"label": "Field", "help": "The text field that holds the tags, comma separated"},
    )


class TagPerson(StepType):
    """Add ``tag`` to the comma-separated text field ``field`` of the person.

    The CRM write carries the step's idempotency key, so a job run again after a
    crash tags no one twice; a person who has the tag already is left alone."""

    name = "tag_person"
    label = "Tag the person"
    category = "Contact"
    description = "Add a word to the person's tags."
    settings_schema = TagSettings

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Tag with {settings.get('tag', '?')}"

    def execute(self, ctx: StepContext) -> StepResult:
        field, tag = ctx.settings["field"], ctx.settings["tag"]
        tags = [t.strip() for t in str(person_value(ctx.person or {}, field) or "").split(",") if t.strip()]
        if tag in tags:
            return StepResult.advance(f"already tagged {tag}")
        update = (ctx.participant.person_id, {field: ", ".join([*tags, tag])}, ctx.idempotency_key)
        try:
            ctx.crm.update_persons([update])
        except CrmError as exc:
            return StepResult.exit(f"could not tag: {exc}")
        return StepResult.advance(f"tagged {tag}", counters={"tag.added": 1})


@hookimpl
def superflow_register_step_types(register):
    register(TagPerson())
