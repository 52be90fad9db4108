"""``superflow plugins``: what is installed, what each plugin registered, and
the flow parts' settings as Markdown."""

from __future__ import annotations

import json

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("-v", "--verbose", is_flag=True, help="Each item's label and palette category.")
@pass_command_context
def plugins_list(context: CommandContext, as_json: bool, verbose: bool) -> None:
    """Every plugin, the hooks it implements and what it registered."""
    from superflow.registry import load_registry

    registry = load_registry(context.config.plugins)
    rows = registry.plugins()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if row["broken"]:
            click.echo(f"{row['name']}  BROKEN: {row['broken']}")
            continue
        click.echo(row["name"])
        for kind, names in row["registered"].items():
            click.echo(f"  {kind}: {', '.join(names)}")
            if verbose:
                for name in names:
                    item = registry.get(kind, name)
                    category = f" [{item.category}]" if getattr(item, "category", "") else ""
                    click.echo(f"    {name}: {item.label}{category}")


@plugins.command("docs")
@pass_command_context
def plugins_docs(context: CommandContext) -> None:
    """Print every installed flow part with its settings, as Markdown."""
    from superflow.catalogue import catalogue
    from superflow.registry import load_registry

    click.echo(catalogue(load_registry(context.config.plugins)), nl=False)
