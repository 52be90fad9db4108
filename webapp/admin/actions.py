"""What a marketer does to a flow from the admin: start, pause, resume, end, copy,
delete, add people by hand, send a test message.

Each change first shows a page that says what will happen to the participants
("312 active participants will be cancelled"); the change itself is a POST with the
session's CSRF token, and the role is checked here, on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import flows
from superflow import keys
from superflow import participation
from superflow import queueing
from superflow.channels import ChannelError
from superflow.flow import Flow
from superflow.flow import FlowInvalid
from superflow.flow import merge_tag_fields
from superflow.flow import readiness
from superflow.flow import setting_label
from superflow.runtime import Runtime
from superflow.webapp.admin import describe
from superflow.webapp.admin.views import existing_flow
from superflow.webapp.admin.views import number
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = Blueprint("actions", __name__)

RUN = ("flow_admin",)
EDIT = ("flow_admin", "content_editor")


@dataclass
class Consequence:
    """What an action will do, in words, and whether it may go ahead."""

    title: str
    button: str
    effects: list[str]
    refusal: str = ""
    danger: bool = False
    #: A box to tick with the action: (form field, label).
    choice: tuple[str, str] | None = None


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{number(n)} {one if n == 1 else (many or one + 's')}"


def consequence(rt: Runtime, flow: Flow, action: str) -> Consequence:
    stats = rt.store.stats(flow.id)
    active = stats.get("active", 0)
    status = flow.status
    if action == "start":
        problems = readiness(flow, rt.registry) if status == "draft" else []
        trigger = describe.component_words(rt.registry, "triggers", flow.doc["trigger"], describe.Labels(rt))
        missed = flows.missed_today(rt, flow) if status == "draft" and not problems else 0
        effects = [
            f"From now on: {trigger or 'No trigger yet'}.",
            "Everyone who matches and passes the filters is enrolled and goes through the steps.",
        ]
        if missed:
            were = "was" if missed == 1 else "were"
            effects.append(
                f"{_plural(missed, 'person', 'persons')} {were} due earlier today, before the start"
                f" ({trigger}): they are not enrolled unless you tick the box."
            )
        return Consequence(
            "Start this flow?",
            "Start flow",
            effects,
            choice=("earlier_today", f"Also enrol {_plural(missed, 'person', 'persons')} from earlier today")
            if missed
            else None,
            refusal=(
                "This flow is paused: resume it to go on from where it stopped."
                if status == "paused"
                else f"This flow is {status}; only a draft can be started."
                if status != "draft"
                else ("It cannot start yet: " + "; ".join(problems) + ".")
                if problems
                else ""
            ),
        )
    if action == "pause":
        return Consequence(
            "Pause this flow?",
            "Pause flow",
            [
                f"{_plural(active, 'active participant')} will wait where they are; no step runs for them.",
                "People who match the trigger while paused are queued and enrolled when you resume.",
            ],
            refusal=""
            if status == "running"
            else f"This flow is {status}; only a running flow can be paused.",
        )
    if action == "resume":
        parked = rt.redis.scard(keys.parked(flow.id))
        queued = rt.redis.llen(keys.pending(flow.id))
        return Consequence(
            "Resume this flow?",
            "Resume flow",
            [
                f"{_plural(parked, 'participant')} waiting at a step will go on from where they stopped.",
                f"{_plural(queued, 'queued enrolment')} from while the flow was paused will be processed.",
            ],
            refusal=""
            if status == "paused"
            else f"This flow is {status}; only a paused flow can be resumed.",
        )
    if action == "end":
        return Consequence(
            "End this flow?",
            "End flow",
            [
                f"{_plural(active, 'active participant')} will be cancelled. Their history is kept.",
                "No one will be enrolled any more. An ended flow cannot be started again;"
                " copy it to reuse it.",
            ],
            refusal=(
                "" if status in ("running", "paused") else f"This flow is {status}; there is nothing to end."
            ),
            danger=True,
        )
    if action == "delete":
        return Consequence(
            "Delete this flow?",
            "Delete flow",
            [
                "The flow disappears from the list, with the reports of its"
                f" {_plural(stats.get('enrolled', 0), 'participant')}.",
                "This cannot be undone from the admin.",
            ],
            refusal=(
                f"This flow is {status}: end it before deleting it."
                if status in ("running", "paused")
                else ""
            ),
            danger=True,
        )
    abort(404, description=f"There is no action {action!r} for a flow.")


@bp.get("/flows/<flow_id>/<any(start, pause, resume, end, delete):action>")
@role_required(*RUN)
def confirm(flow_id: str, action: str):
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    return render_template("admin/confirm.html", flow=flow, action=action, what=consequence(rt, flow, action))


@bp.post("/flows/<flow_id>/<any(start, pause, resume, end):action>")
@role_required(*RUN)
def run(flow_id: str, action: str):
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    what = consequence(rt, flow, action)
    if what.refusal:
        flash(what.refusal, "error")
        return redirect(url_for("views.flow", flow_id=flow_id))
    try:
        if action == "start":
            earlier_today = request.form.get("earlier_today") == "1"
            flows.start(rt, flow_id, by=g.user["username"], earlier_today=earlier_today)
            flash(f"“{flow.name}” is running.")
        elif action == "pause":
            rt.engine.pause(flow_id)
            flash(f"“{flow.name}” is paused.")
        elif action == "resume":
            released = rt.engine.resume(flow_id)
            flash(f"“{flow.name}” is running again; {_plural(released, 'participant')} released.")
        else:
            cancelled = rt.engine.end(flow_id)
            flash(f"“{flow.name}” has ended; {_plural(cancelled, 'participant')} cancelled.")
    except (flows.FlowStateError, flows.FlowNotReady) as exc:
        flash(_reason(exc), "error")
    return redirect(url_for("views.flow", flow_id=flow_id))


def _reason(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    return "It cannot start yet: " + "; ".join(problems) if problems else str(exc)


@bp.post("/flows/<flow_id>/delete")
@role_required(*RUN)
def delete(flow_id: str):
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    try:
        flows.delete(rt, flow_id)
    except flows.FlowStateError as exc:
        flash(str(exc), "error")
        return redirect(url_for("views.flow", flow_id=flow_id))
    flash(f"“{flow.name}” was deleted.")
    return redirect(url_for("views.index"))


@bp.post("/flows/<flow_id>/copy")
@role_required(*RUN)
def copy(flow_id: str):
    rt = runtime()
    existing_flow(rt, flow_id)
    made = flows.copy(rt, flow_id, by=g.user["username"])
    flash(f"Copied as a draft: “{made.name}”.")
    return redirect(url_for("views.flow", flow_id=made.id))


@bp.post("/flows/<flow_id>/enrol")
@role_required(*RUN)
def enrol(flow_id: str):
    """Add one person (by email address or id) or a selection's members."""
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    back = redirect(url_for("views.flow", flow_id=flow_id))
    try:
        participation.check_manual_enrolment(rt, flow, flow.status)
    except participation.ParticipationError as exc:
        flash(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "error")
        return back
    try:
        people, what = _people(rt, request.form)
    except LookupError as exc:
        flash(str(exc.args[0]), "error")
        return back
    queueing.enqueue_enrol(rt, flow_id, people, f"manual ({g.user['username']})")
    flash(f"{what} queued for enrolment. Filters and the re-enrolment rule still apply.")
    return back


def _people(rt: Runtime, form: Any) -> tuple[list[str], str]:
    person = form.get("person", "").strip()
    selection = form.get("selection", "").strip()
    if person:
        found = rt.crm.find_person(person)
        if not found:
            raise LookupError(f"person: no person {person!r} in the CRM")
        return [str(found["id"])], f"{found.get('full_name') or found.get('email') or person}"
    if selection:
        try:
            members = rt.crm.selection_members(selection)
        except Exception as exc:  # each CRM names a missing selection its own way
            raise LookupError(f"selection: {exc}") from None
        if not members:
            raise LookupError(f"selection: selection {selection} has no members")
        return list(dict.fromkeys(str(m) for m in members)), _plural(len(members), "person", "people")
    raise LookupError("person: give an email address or a person id, or choose a selection")


@bp.post("/flows/<flow_id>/content/<step_id>/test")
@role_required(*EDIT)
def send_test(flow_id: str, step_id: str):
    from superflow import content

    rt = runtime()
    flow = existing_flow(rt, flow_id)
    person = request.form.get("person", "")
    to = request.form.get("to", "").strip()
    back = redirect(url_for("views.content", flow_id=flow_id, person=person or None))
    if not to:
        flash("to: give an address or number to send the test to.", "error")
        return back
    try:
        flash(content.send_test(rt, flow, step_id, person, to))
    except (ValueError, LookupError, NotImplementedError, ChannelError) as exc:
        reason = str(exc).strip(chr(39))
        said = reason.casefold().startswith("the test")  # the step type's words already say so
        flash(reason[:1].upper() + reason[1:] if said else f"The test was not sent: {reason}", "error")
    return back


def _in_words(step_type: Any, error: dict[str, str]) -> str:
    """A save error for the content editor: the setting by its label, not its path
    in the flow document (``steps[2].settings.subject``)."""
    field = error["field"]
    if field.startswith("("):
        return error["message"]
    return f"{setting_label(step_type, field.rsplit('.', 1)[-1])}: {error['message']}"


def content_fields(step_type: Any) -> list[dict[str, Any]]:
    """The settings of a step type that hold text with merge tags (its schema marks
    them ``metadata={"merge_tags": True}``): what a content editor may change."""
    return [
        {
            "name": name,
            "label": declared.metadata.get("label") or name.replace("_", " ").capitalize(),
            "help": declared.metadata.get("help", ""),
            "long": declared.metadata.get("widget") == "html" or name in ("html", "text", "body", "message"),
        }
        for name, declared in merge_tag_fields(step_type).items()
    ]


@bp.route("/flows/<flow_id>/content/<step_id>/edit", methods=["GET", "POST"])
@role_required(*EDIT)
def edit_content(flow_id: str, step_id: str):
    """Change the texts of one step: saved as a new version of the flow, also while
    it runs (the next sends use it); an unknown merge tag is refused naming the field."""
    rt = runtime()
    flow = existing_flow(rt, flow_id)
    if step_id not in flow.steps:
        abort(404, description=f"Flow {flow_id} has no step {step_id!r}.")
    step_type = rt.registry.step_type(flow.steps[step_id]["type"])
    editable = content_fields(step_type)
    if not editable:
        abort(404, description=f"{flow.step_label(step_id, rt.registry)} has no texts to edit.")
    values = {f["name"]: flow.steps[step_id]["settings"].get(f["name"], "") for f in editable}
    errors: list[str] = []
    if request.method == "POST":
        values = {f["name"]: request.form.get(f["name"], "") for f in editable}
        texts = {name: value if value.strip() else None for name, value in values.items()}
        try:
            flows.update_content(rt, flow_id, step_id, texts, by=g.user["username"])
        except flows.FlowStateError as exc:
            errors = [f"{exc}."]
        except FlowInvalid as exc:
            errors = [_in_words(step_type, e) for e in exc.errors]
        else:
            label = flow.step_label(step_id, rt.registry)
            flash(f"{label} saved as version {flow.version + 1}; the next messages use it.")
            return redirect(url_for("views.content", flow_id=flow_id))
    return render_template(
        "admin/content_edit.html",
        flow=flow,
        step_id=step_id,
        step_label=flow.step_label(step_id, rt.registry),
        fields=editable,
        values=values,
        errors=errors,
        merge_tags=[
            f"{root}.{name}" for root, names in sorted(rt.merge_names().items()) for name in sorted(names)
        ],
    ), (400 if errors else 200)
