"""superflow-testkit: a third-party plugin for the browser tests of the flow designer.

It registers one step type, ``award_badge``, with a marshmallow schema the designer
must turn into a working form with no code of its own: a required string, an integer
with a range and a choice; and one field with a widget of its own (colour swatches,
``static/widgets.js``, added to the designer through ``superflow_register_designer_scripts``).
The browser tests put this folder on the ``PYTHONPATH`` of
the web app and the worker, where ``superflow_testkit-0.1.dist-info/entry_points.txt``
makes it an installed plugin of the ``superflow`` entry-point group.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import hookimpl

LEVELS = {"bronze": "Bronze", "silver": "Silver", "gold": "Gold"}


class AwardBadgeSettings(Schema):
    badge = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Badge name", "help": "What the person is awarded, e.g. Early bird"},
    )
    points = fields.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=100),
        metadata={"label": "Points", "help": "From 1 to 100"},
    )
    level = fields.String(
        load_default="bronze",
        validate=validate.OneOf(tuple(LEVELS)),
        metadata={"label": "Level", "choices_labels": LEVELS},
    )
    colour = fields.String(
        load_default="red",
        validate=validate.OneOf(("red", "green", "blue")),
        metadata={"label": "Ribbon colour", "widget": "testkit_colour"},
    )


class AwardBadge(StepType):
    name = "award_badge"
    label = "Award badge"
    category = "Testkit"
    description = "Give the person a badge (a test plugin: it only logs)."
    settings_schema = AwardBadgeSettings

    def execute_batch(self, ctxs: list[StepContext]) -> list[StepResult]:
        return [StepResult.advance(f"badge {ctx.settings['badge']!r} awarded") for ctx in ctxs]

    def describe(self, settings: dict) -> str:
        return f"Award the {settings.get('level', 'bronze')} badge {settings.get('badge', '?')!r}"


widgets = Blueprint(
    "testkit",
    __name__,
    static_folder=str(Path(__file__).parent / "static"),
    static_url_path="/testkit/static",
)


@hookimpl
def superflow_register_step_types(register):
    register(AwardBadge())


@hookimpl
def superflow_register_routes(register):
    register(widgets)


@hookimpl
def superflow_register_designer_scripts(register):
    register("/testkit/static/widgets.js")
