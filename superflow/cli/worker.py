"""``superflow worker``: one engine worker; run any number against one Redis."""

from __future__ import annotations

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--name", default=None, help="Worker name (default: random).")
@pass_command_context
def worker(context: CommandContext, burst: bool, name: str | None) -> None:
    """Run a worker: any number, on any machine, against one REDIS_URL."""
    from superflow.worker import run_worker

    run_worker(context.open_runtime(may_start_data_folder=True), burst=burst, name=name)
