"""``superflow events send``: queue an event, as a webhook or the API would."""

from __future__ import annotations

import json

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.group()
def events() -> None:
    """Send events to the engine."""


@events.command("send")
@click.argument("event_type")
@click.option("--person", required=True, help="The CRM person id.")
@click.option("--data", default="{}", help="JSON object with the event's data.")
@pass_command_context
def events_send(context: CommandContext, event_type: str, person: str, data: str) -> None:
    """Queue one event, as a webhook or the API would."""
    from superflow.events import Event

    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None
    if not isinstance(payload, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--data")
    rt = context.runtime
    if rt.crm.get_person(person) is None:
        raise click.ClickException(f"no person {person} in the {rt.config.crm} CRM")
    rt.emit([Event(event_type, person, payload, source="cli")])
    click.echo(f"event {event_type} for person {person} queued")
