"""Flow control: wait, wait for an action, and split.

They are ordinary step types: the engine honours what they return
(``StepResult.wait``, ``wait_for_event``, ``branch_to``) and knows nothing else of them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Blueprint
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import hookimpl
from superflow import untracked_warnings

UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}
ACTIONS = {
    "email.opened": "opens the email",
    "link.clicked": "clicks a link in the email",
    "form.submitted": "submits a form",
    "api.event": "an API event arrives",
}


class WaitSettings(Schema):
    amount = fields.Integer(
        validate=validate.Range(min=1), metadata={"label": "Wait for", "help": "How long to wait"}
    )
    unit = fields.String(
        load_default="days", validate=validate.OneOf(tuple(UNITS)), metadata={"label": "Unit"}
    )
    until = fields.AwareDateTime(
        metadata={"label": "Or wait until", "help": "A date and time (with time zone)"}
    )


class Wait(StepType):
    name = "wait"
    label = "Wait"
    category = "Flow control"
    description = "Wait a while, or until a date and time, before the next step."
    settings_schema = WaitSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        if not settings.get("amount") and not settings.get("until"):
            return ["say how long to wait (Wait for) or until when (Or wait until)"]
        return []

    def describe(self, settings: dict[str, Any]) -> str:
        if settings.get("until"):
            return f"Wait until {settings['until']}"
        amount, unit = settings.get("amount", "?"), str(settings.get("unit", "days"))
        return f"Wait {amount} {unit.removesuffix('s') if amount == 1 else unit}"

    def execute(self, ctx: StepContext) -> StepResult:
        until = ctx.settings.get("until")
        if isinstance(until, dt.datetime):
            return StepResult.wait(until.timestamp(), f"waiting until {until.isoformat()}")
        seconds = ctx.settings["amount"] * UNITS[ctx.settings["unit"]]
        return StepResult.wait(
            ctx.now + seconds, self.describe(ctx.settings).lower().replace("wait", "waiting", 1)
        )


class WaitForActionSettings(Schema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(tuple(ACTIONS)),
        metadata={"label": "Wait until the person", "choices_labels": ACTIONS},
    )
    step = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "label": "In the email of step",
            "help": "For opens and clicks: the email step's id",
            "show_if": {"action": ["email.opened", "link.clicked"]},
            "widget": "flow_step",
            "x-step-sends": "email",
            "x-empty-label": "Any email of this flow",
        },
    )
    name = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Form or API event name", "show_if": {"action": ["form.submitted", "api.event"]}},
    )
    timeout_days = fields.Float(
        load_default=7, validate=validate.Range(min=0.0007), metadata={"label": "Give up after (days)"}
    )
    on_timeout = fields.String(
        load_default="continue",
        validate=validate.OneOf(("continue", "goto", "exit")),
        metadata={"label": "When nothing happened", "help": "continue, go to a step, or exit the flow"},
    )
    timeout_step = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": "Go to step", "show_if": {"on_timeout": "goto"}, "widget": "flow_step"},
    )


class WaitForAction(StepType):
    name = "wait_for_action"
    label = "Wait for action"
    category = "Flow control"
    description = "Wait until the person opens, clicks or submits; give up after a timeout."
    settings_schema = WaitForActionSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        problems = []
        if settings.get("action") in ("email.opened", "link.clicked"):
            ref = settings.get("step")
            if ref and ref not in flow.steps:
                problems.append(f"step: there is no step {ref!r} in this flow")
        if settings.get("on_timeout") == "goto":
            target = settings.get("timeout_step")
            if not target:
                problems.append("timeout_step is required: choose the step to go to when nothing happened")
            elif target not in flow.steps:
                problems.append(f"timeout_step: there is no step {target!r} in this flow")
        return problems

    def warnings(self, settings: dict[str, Any], flow: Any) -> list[str]:
        return untracked_warnings(settings, flow)

    def describe(self, settings: dict[str, Any]) -> str:
        what = ACTIONS.get(settings.get("action", ""), "acts")
        return f"Wait until the person {what} (at most {settings.get('timeout_days', 7):g} days)"

    def execute(self, ctx: StepContext) -> StepResult:
        until = ctx.now + float(ctx.settings["timeout_days"]) * 86400
        action = ctx.settings["action"]
        return StepResult.wait_for_event((action,), until, f"waiting until the person {ACTIONS[action]}")

    def event_matches(self, event: Any, settings: dict[str, Any], participant: Any) -> bool:
        if event.type != settings["action"]:
            return False
        if settings.get("step") and event.data.get("step_id") != settings["step"]:
            return False
        if event.data.get("participant_id") not in (None, participant.id):
            return False
        name = settings.get("name")
        return not name or event.data.get("name") == name or event.data.get("form_id") == name

    def on_timeout(self, ctx: StepContext) -> StepResult:
        choice = ctx.settings["on_timeout"]
        if choice == "exit":
            return StepResult.exit("timed out waiting for an action")
        if choice == "goto":
            return StepResult.goto_step(ctx.settings["timeout_step"], "timed out")
        return StepResult.advance("timed out")


class Split(StepType):
    name = "split"
    label = "Split"
    category = "Flow control"
    description = "Send participants down the first branch whose condition they meet."
    branching = True

    def execute(self, ctx: StepContext) -> StepResult:
        branches = ctx.step.get("branches") or []
        for index, branch in enumerate(branches):
            if ctx.evaluate(branch.get("condition")):
                return StepResult.branch_to(index, f"branch {index + 1}: {branch.get('name') or 'matched'}")
        return StepResult.branch_to(len(branches), "everyone else")


@hookimpl
def superflow_register_step_types(register):
    register(Wait())
    register(WaitForAction())
    register(Split())


#: The designer's words for a wait in the chart, served from this plugin's own
#: static folder.
designer_assets = Blueprint(
    "flow_control_designer",
    __name__,
    static_folder=str(Path(__file__).parent / "static" / "flow_control"),
    static_url_path="/plugins/flow_control/static",
)


@hookimpl
def superflow_register_routes(register):
    register(designer_assets)


@hookimpl
def superflow_register_designer_scripts(register):
    register("/plugins/flow_control/static/flow_control.js", module=True)
