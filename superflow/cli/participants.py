"""A flow's participants from the command line: ``enroll`` persons, list them
(``participants``), one's ``history``, and those ``stuck`` in flight."""

from __future__ import annotations

import time

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.command()
@click.argument("flow_id")
@click.option("--person", "persons", multiple=True, help="A CRM person id (repeatable).")
@click.option("--selection", default=None, help="Every member of a CRM selection.")
@pass_command_context
def enroll(context: CommandContext, flow_id: str, persons: tuple[str, ...], selection: str | None) -> None:
    """Enrol persons in a flow (filters and re-enrolment rules apply)."""
    from superflow import flows as flow_service
    from superflow import queueing

    rt = context.runtime
    flow = flow_service.get(rt, flow_id)
    trigger = flow.doc["trigger"]
    if trigger and not rt.registry.trigger(trigger["type"]).allows_manual_enrolment:
        raise click.ClickException(f"the trigger of flow {flow_id} does not allow manual enrolment")
    people = list(persons)
    if selection:
        people += rt.crm.selection_members(selection)
    if not people:
        raise click.UsageError("name at least one --person or a --selection")
    queueing.enqueue_enrol(rt, flow_id, people, "manual (cli)")
    click.echo(f"enrolment of {len(people)} person(s) in flow {flow_id} queued")


class _ListByDefault(click.Group):
    """``superflow participants FLOW`` lists (as it always did); ``superflow
    participants reindex FLOW`` runs a subcommand: arguments that do not start with
    a subcommand's name go to ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ListByDefault)
def participants() -> None:
    """A flow's participants: ``participants FLOW [--status S]``, ``participants reindex FLOW``."""


@participants.command("list")
@click.argument("flow_id")
@click.option(
    "--status",
    default=None,
    type=click.Choice(["active", "completed", "succeeded", "exited", "cancelled"]),
    help="Only this status.",
)
@click.option("--limit", default=50, show_default=True)
@pass_command_context
def participants_list(context: CommandContext, flow_id: str, status: str | None, limit: int) -> None:
    """A flow's participants with status and current step, newest first."""
    from superflow import flows as flow_service
    from superflow import roster

    rt = context.runtime
    flow_service.get(rt, flow_id)
    click.echo(f"{'PARTICIPANT':14}  {'PERSON':8}  {'STATUS':10}  {'STEP':12}  NOTE")
    ids = roster.page(rt.redis, flow_id, status=status, limit=limit).ids
    loaded = rt.store.participants(ids)
    for p in (loaded[pid] for pid in ids if pid in loaded):
        note = p.reason or (
            f"waiting until {time.strftime('%Y-%m-%d %H:%M', time.localtime(p.wait['u']))}" if p.wait else ""
        )
        click.echo(f"{p.id:14}  {p.person_id:8}  {p.status:10}  {p.step or '-':12}  {note}")


@participants.command("reindex")
@click.argument("flow_id")
@pass_command_context
def participants_reindex(context: CommandContext, flow_id: str) -> None:
    """Rebuild a flow's participant indexes (status, step) from its participants:
    for participants stored before the indexes existed.  Safe while workers run."""
    from superflow import flows as flow_service
    from superflow import roster

    rt = context.runtime
    flow_service.get(rt, flow_id)
    started = time.monotonic()
    indexed = roster.reindex(rt.redis, flow_id)
    click.echo(f"flow {flow_id}: {indexed} participants indexed in {time.monotonic() - started:.1f}s")


@click.command()
@click.argument("participant_id")
@pass_command_context
def history(context: CommandContext, participant_id: str) -> None:
    """One participant's step history."""
    rt = context.runtime
    p = rt.store.participant(participant_id)
    if p is None:
        raise click.ClickException(f"no participant {participant_id}")
    click.echo(f"participant {p.id}: person {p.person_id}, flow {p.flow_id}, {p.status}, at {p.step or '-'}")
    for entry in rt.store.history(participant_id):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["at"]))
        click.echo(f"  {when}  {entry['step'] or '-':10}  {entry['kind']:10}  {entry['note']}")


@click.command()
@click.option("--resume", is_flag=True, help="Hand them to a worker again.")
@pass_command_context
def stuck(context: CommandContext, resume: bool) -> None:
    """Participants in flight for longer than SUPERFLOW_STUCK_AFTER_SECONDS."""
    from superflow import keys
    from superflow import queueing

    rt = context.runtime
    before = time.time() - rt.config.stuck_after_seconds
    pids = rt.redis.zrangebyscore(keys.INFLIGHT, "-inf", before)
    for pid in pids:
        click.echo(pid)
    click.echo(f"{len(pids)} stuck participant(s)")
    if resume and pids:
        rt.store.drop_leases(pids)
        queueing.enqueue_advance(rt, pids)
        click.echo("handed to the workers again")
