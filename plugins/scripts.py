"""The "run script" step: run a named script for the participant, fire and forget.

Scripts come from plugins (the ``superflow_register_scripts`` hook gives
:class:`superflow.components.Script` objects); a name no plugin registered is handed
to the CRM backend, if it can run scripts of its own (``run_script``).  Whatever
happens, the flow goes on: a failure is written in the participant's history and
counted as ``scripts.failed``.
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import StepContext
from superflow import StepResult
from superflow import StepType
from superflow import hookimpl

log = logging.getLogger(__name__)

MAX_OUTCOME = 300


class RunScriptSettings(Schema):
    script = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={
            "label": "Script",
            "help": "The script's name; the installed scripts are listed under Scripts",
            "choices_from": "scripts",
        },
    )
    arguments = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "label": "Arguments",
            "help": 'Given to the script as a JSON object, e.g. {"field": "score"}',
        },
    )


def _current_runtime() -> Any | None:
    """The runtime this process runs on, if it has set one (worker, CLI, tests).

    A component's readiness is given the settings and the flow only, so this is the
    way to the script registry; without a runtime the check is left to the step,
    which records a missing script in the participant's history.
    """
    from superflow.runtime import running

    return running()


def _short(text: str) -> str:
    return text if len(text) <= MAX_OUTCOME else text[: MAX_OUTCOME - 1] + "…"


class RunScript(StepType):
    name = "run_script"
    label = "Run script"
    category = "Advanced"
    description = "Run an installed script for the person; the flow goes on whatever the script does."
    settings_schema = RunScriptSettings

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        rt = _current_runtime()
        name = settings.get("script")
        if rt is None or not name:
            return []
        installed = set(rt.registry.all("scripts"))
        if name in installed:
            return []
        if getattr(rt.crm, "run_script", None) is not None:
            list_scripts = getattr(rt.crm, "list_scripts", None)
            if list_scripts is None:
                return []  # the CRM may know it; the step will tell
            installed |= {str(s["name"]) for s in list_scripts()}
            if name in installed:
                return []
        return [f"script: there is no script {name!r} (installed: {', '.join(sorted(installed)) or 'none'})"]

    def describe(self, settings: dict[str, Any]) -> str:
        return f"Run script {settings.get('script', '?')}"

    def execute(self, ctx: StepContext) -> StepResult:
        name, arguments = ctx.settings["script"], dict(ctx.settings["arguments"])
        script = ctx.services.registry.all("scripts").get(name)
        try:
            if script is not None:
                line = script.run(ctx.person, ctx.participant, ctx.services, arguments)
            else:
                run = getattr(ctx.crm, "run_script", None)
                if run is None:
                    return StepResult.advance(
                        f"script {name!r} not run: no installed script has that name, and the CRM"
                        f" backend {ctx.crm.name!r} cannot run scripts",
                        counters={"scripts.failed": 1},
                    )
                line = run(name, ctx.participant.person_id, arguments, idempotency_key=ctx.idempotency_key)
        except Exception as exc:
            log.warning("script %s failed for participant %s", name, ctx.participant.id, exc_info=True)
            return StepResult.advance(
                _short(f"script {name!r} failed: {type(exc).__name__}: {exc}"), counters={"scripts.failed": 1}
            )
        outcome = f"script {name!r}: {line}" if line else f"script {name!r} ran"
        return StepResult.advance(_short(outcome), counters={"scripts.ran": 1})


@hookimpl
def superflow_register_step_types(register):
    register(RunScript())
