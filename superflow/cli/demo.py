"""``superflow demo``: everything in one command on embedded defaults."""

from __future__ import annotations

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--persons", default=300, show_default=True, help="Persons in the demo CRM.")
@click.option("--workers", default=1, show_default=True)
@pass_command_context
def demo(context: CommandContext, host: str, port: int, persons: int, workers: int) -> None:
    """Everything in one command: embedded Redis, demo CRM, worker, web app."""
    from superflow.demo import run_demo

    run_demo(context.config, host=host, port=port, persons=persons, workers=workers)
