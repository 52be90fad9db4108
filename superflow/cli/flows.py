"""``superflow flows``: validate, import, export and list flow files, and start,
pause, resume or end a flow."""

from __future__ import annotations

import json
from pathlib import Path

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.group()
def flows() -> None:
    """Validate, import, export and run flows."""


@flows.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_command_context
def flows_validate(context: CommandContext, file: Path) -> None:
    """Check a flow file: structure, types, settings, and what is missing to start."""
    from superflow.flow import parse_flow
    from superflow.flow import readiness
    from superflow.registry import load_registry

    registry = load_registry(context.config.plugins)
    flow = parse_flow(file.read_text(), registry)
    click.echo(f"{file}: valid flow {flow.name!r} with {len(flow.steps)} steps")
    problems = readiness(flow, registry)
    if problems:
        click.echo("not ready to start:")
        for problem in problems:
            click.echo(f"  {problem}")
    else:
        click.echo("ready to start")


@flows.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--start", is_flag=True, help="Start the flow after importing it.")
@pass_command_context
def flows_import(context: CommandContext, file: Path, start: bool) -> None:
    """Store a flow file as a new draft flow; print its id."""
    from superflow import flows as flow_service

    flow = flow_service.create(context.runtime, file.read_text(), by="cli")
    if start:
        flow_service.start(context.runtime, flow.id)
    click.echo(flow.id)


@flows.command("export")
@click.argument("flow_id")
@click.option("--version", type=int, default=None, help="An earlier version.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_command_context
def flows_export(context: CommandContext, flow_id: str, version: int | None, output: Path | None) -> None:
    """Print (or write) a flow's document."""
    from superflow import flows as flow_service

    text = json.dumps(flow_service.get(context.runtime, flow_id, version).doc, indent=2) + "\n"
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


@flows.command("list")
@pass_command_context
def flows_list(context: CommandContext) -> None:
    """Every flow with its status and counts."""
    from superflow import flows as flow_service

    rows = flow_service.list_flows(context.runtime)
    click.echo(f"{'ID':>4}  {'STATUS':8}  {'ACTIVE':>6}  {'ENROLLED':>8}  NAME")
    for row in rows:
        stats = row["stats"]
        active, enrolled = stats.get("active", 0), stats.get("enrolled", 0)
        click.echo(f"{row['id']:>4}  {row['status']:8}  {active:>6}  {enrolled:>8}  {row['name']}")


def _lifecycle(name: str, doc: str) -> None:
    """Add ``flows NAME FLOW_ID``: one of start, pause, resume and end."""

    @flows.command(name, help=doc)
    @click.argument("flow_id")
    @pass_command_context
    def command(context: CommandContext, flow_id: str) -> None:
        from superflow import flows as flow_service

        rt = context.runtime
        if name == "start":
            flow_service.start(rt, flow_id)
            click.echo(f"flow {flow_id} is running")
        elif name == "pause":
            rt.engine.pause(flow_id)
            click.echo(f"flow {flow_id} is paused: no one enters, participants wait where they stand")
        elif name == "resume":
            released = rt.engine.resume(flow_id)
            click.echo(f"flow {flow_id} is running again; {released} parked participants released")
        else:
            cancelled = rt.engine.end(flow_id)
            click.echo(f"flow {flow_id} has ended; {cancelled} active participants cancelled")


_lifecycle("start", "Start a draft flow (refused with the list of what is missing).")
_lifecycle("pause", "Pause a running flow.")
_lifecycle("resume", "Resume a paused flow.")
_lifecycle("end", "End a flow: cancel its active participants, keep the history.")
