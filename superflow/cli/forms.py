"""``superflow forms``: hosted forms, answered at ``/forms/<id>``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context
from superflow.cli.data_folder import web_address


@click.group()
def forms() -> None:
    """Hosted forms, answered at /forms/<id>."""


@forms.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_command_context
def forms_create(context: CommandContext, file: Path) -> None:
    """Save a form definition (JSON); print its address."""
    from superflow import forms as form_store

    try:
        doc = json.loads(file.read_text())
        form = form_store.create(context.runtime.redis, doc, context.runtime.crm.list_fields())
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: not valid JSON: {exc}") from None
    except form_store.FormInvalid as exc:
        raise click.ClickException("the form is not valid:\n  " + "\n  ".join(exc.problems)) from None
    except form_store.FormExists as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{web_address(context.runtime.config)}/forms/{form['id']}")


@forms.command("list")
@pass_command_context
def forms_list(context: CommandContext) -> None:
    """Every form with its address."""
    from superflow import forms as form_store

    forms_found = form_store.list_forms(context.runtime.redis)
    base = web_address(context.runtime.config) if forms_found else ""
    for form in forms_found:
        click.echo(f"{form['id']:16}  {form['name']}  {base}/forms/{form['id']}")


@forms.command("delete")
@click.argument("form_id")
@pass_command_context
def forms_delete(context: CommandContext, form_id: str) -> None:
    """Remove a form (its address answers 404 from then on)."""
    from superflow import forms as form_store

    if not form_store.delete(context.runtime.redis, form_id):
        raise click.ClickException(f"no form {form_id}")
    click.echo(f"form {form_id} deleted")
